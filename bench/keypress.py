"""Key-press latency in the wizard (issue 12: no key press may wait more than 100 ms for a
check). Pilot types an adversarial image reference into the Base step's image field, key by
key, and times each press until the app is idle again. The baselines, in the same run: the
table filter on the same step, which has no validator, and a bare Input in an empty app
(Pilot's round trip and Textual's repaint alone). The field's check is also timed on its own:
it runs once typing pauses, not on the key's path.

    .venv/bin/python bench/keypress.py [PROJECT]

PROJECT defaults to this checkout (its model/ folder, no checkpoint needed).
"""

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TYPED = "objectnetwizardtest/torch:" + "a" * 30 + ":"
KEY_NAMES = {"/": "slash", ":": "colon"}


async def _type(pilot, selector, text):
    field = pilot.app.screen.query_one(selector)
    field.focus()
    field.value = ""
    await pilot.pause(0.3)
    times = []
    for ch in text:
        started = time.perf_counter()
        await pilot.press(KEY_NAMES.get(ch, ch))
        times.append(time.perf_counter() - started)
    await pilot.pause(0.5)
    return times


CHECKS = []
"""Seconds of each run of the field's check (FieldValidator.validate), on the event loop."""


def _time_checks():
    from wizard.tui.widgets.validation import FieldValidator

    validate = FieldValidator.validate

    def timed(self, value):
        started = time.perf_counter()
        try:
            return validate(self, value)
        finally:
            CHECKS.append(time.perf_counter() - started)

    FieldValidator.validate = timed


async def measure(project):
    from wizard.tui.app import create_app

    _time_checks()

    app = create_app(None, project, docker=lambda: None)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause(0.5)
        app.go("base_image")
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        CHECKS.clear()
        field = await _type(pilot, "#input-base_image", TYPED)
        checks = list(CHECKS)
        baseline = await _type(pilot, "#image-filter", TYPED)
    return field, baseline, checks


async def floor():
    """The same keys into a bare Input in an otherwise empty app: Pilot's round trip and
    Textual's repaint, with nothing of the wizard."""
    from textual.app import App
    from textual.widgets import Input

    class Bare(App):
        def compose(self):
            yield Input(id="bare")

    async with Bare().run_test(size=(100, 32)) as pilot:
        return await _type(pilot, "#bare", TYPED)


def _line(name, times):
    ms = sorted(t * 1000 for t in times)
    slowest = max(range(len(times)), key=times.__getitem__)
    return "%-34s median %6.1f ms  p90 %6.1f ms  max %6.1f ms (key %d, %r)  (%d keys)" % (
        name, statistics.median(ms), ms[int(0.9 * (len(ms) - 1))], ms[-1], slowest + 1,
        TYPED[slowest], len(ms))


def main():
    project = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO
    field, baseline, checks = asyncio.run(measure(project))
    bare = asyncio.run(floor())
    print("load average before/after: %s" % (os.getloadavg(),))
    print(_line("image field (checked, debounced)", field))
    print(_line("table filter (baseline, no check)", baseline))
    print(_line("bare Input, empty app (floor)", bare))
    print("ratio of medians: %.2f against the filter, %.2f against the floor"
          % (statistics.median(field) / statistics.median(baseline),
             statistics.median(field) / statistics.median(bare)))
    # Pilot waits for the app to be idle after each key: the key's handling, a repaint and
    # Pilot's own round trip (about 65 ms on a 2-core machine for a bare Input). The check
    # is not on that path: it runs once typing pauses (Field.DEBOUNCE).
    print("the check itself: %d runs for %d keys, longest %.2f ms, %.2f ms in all"
          % (len(checks), len(field), max(checks, default=0) * 1000, sum(checks) * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
