"""Key-press latency in the wizard (issue 12: no key press may wait more than 100 ms for a
check). Pilot types an adversarial image reference into the Base step's image field, key by
key, and times each press until the app is idle again; the baseline, in the same run, is
the table filter on the same step, which has no validator.

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


async def measure(project):
    from wizard.tui.app import create_app

    app = create_app(None, project, docker=lambda: None)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause(0.5)
        app.go("base_image")
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        field = await _type(pilot, "#input-base_image", TYPED)
        baseline = await _type(pilot, "#image-filter", TYPED)
    return field, baseline


def _line(name, times):
    ms = sorted(t * 1000 for t in times)
    return "%-34s median %6.1f ms  p90 %6.1f ms  max %6.1f ms  (%d keys)" % (
        name, statistics.median(ms), ms[int(0.9 * (len(ms) - 1))], ms[-1], len(ms))


def main():
    project = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO
    field, baseline = asyncio.run(measure(project))
    print("load average before/after: %s" % (os.getloadavg(),))
    print(_line("image field (checked, debounced)", field))
    print(_line("table filter (baseline, no check)", baseline))
    print("ratio of medians: %.2f" % (statistics.median(field) / statistics.median(baseline)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
