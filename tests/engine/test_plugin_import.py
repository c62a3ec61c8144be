"""engine.plugin imports the user's model code once per version of the file, and a thread
that asks while another is still running it waits for the whole module (issue 12: the
wizard's checks, each in a thread, used to find it half-built); and engine.run's cancel
hook, which the wizard's Esc uses."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from engine.plugin import load_model_module, model_classes

SLOW_MODEL = '''\
import time

import torch.nn as nn

time.sleep(0.5)


class first(nn.Module):
    pass


class second(nn.Module):
    pass
'''


def _slow_plugin(folder: Path) -> Path:
    folder.mkdir()
    (folder / "model_description.py").write_text(SLOW_MODEL)
    return folder


def test_threads_asking_at_once_all_see_the_whole_module(tmp_path: Path) -> None:
    folder = _slow_plugin(tmp_path / "slow")
    seen: list[list[str]] = []
    start = threading.Barrier(4)

    def ask() -> None:
        start.wait()
        seen.append(model_classes(load_model_module(folder)))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert seen == [["first", "second"]] * 4


def test_an_edited_model_file_is_imported_again(tmp_path: Path) -> None:
    folder = _slow_plugin(tmp_path / "edited")
    before = load_model_module(folder)
    assert load_model_module(folder) is before
    path = folder / "model_description.py"
    path.write_text(SLOW_MODEL.replace("time.sleep(0.5)", "") + "\n\nclass third(nn.Module):\n"
                    "    pass\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert model_classes(load_model_module(folder)) == ["first", "second", "third"]


def test_a_cancelled_run_stops_after_the_batch_and_leaves_no_file(
        plugin_dir: Path, tiny_checkpoint: Path, images: Path, tmp_path: Path) -> None:
    from engine.config import Config
    from engine.errors import RunCancelledError
    from engine.run import run

    seen: list[int] = []
    config = Config(images_dir=images, output_file=tmp_path / "predictions.csv",
                    model_class="tiny", checkpoint=tiny_checkpoint, model_dir=plugin_dir,
                    workers=0, batch_size=2)
    with pytest.raises(RunCancelledError):
        run(config, on_progress=lambda done, total: seen.append(done),
            cancelled=lambda: len(seen) >= 2)
    total = len(list(images.rglob("*.png")))
    assert len(seen) == 2 and 0 < seen[1] < total, (seen, total)
    assert not config.output_file.exists()
    assert list(tmp_path.iterdir()) == []
