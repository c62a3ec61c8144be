"""A researcher's model as it comes, end to end on the real engine and the real index: it
imports a package from requirements.txt (which itself needs another package and declares
torch), keeps helpers in a sub-package and its class names in a JSON file, and its checkpoint
was saved from a wrapper. `objectnet-wizard run --until build` must take it through with
no network in the build, nothing installed into the wizard's environment, and an in-image
CSV equal to the local one; a code-only change must rebuild from the dependency layer's cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from package_index import pip_environment
from projects import tiny_answers
from support import PLUGIN_TRANSFORM, REPO

from wizard.agreement import read_predictions
from wizard.answers_file import save_answers

MODEL = '''
import json
from pathlib import Path

import torch.nn as nn
import wiz_arch
import wiz_sdist_only

from helpers.blocks import stem

CLASSES = json.loads((Path(__file__).parent / "data" / "classes.json").read_text())


class researcher_net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = stem()
        self.head = wiz_arch.head(len(CLASSES))

    def forward(self, x):
        return self.head(self.stem(x)) * wiz_sdist_only.SCALE
'''

BLOCKS = '''
import torch.nn as nn

from wiz_helper import WIDTH


def stem():
    return nn.Sequential(nn.Conv2d(3, WIDTH, 3, stride=4, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())
'''


def make_researcher_project(root: Path, site: Path) -> Path:
    """engine/ from this checkout and the researcher's model folder; the checkpoint is saved
    from a `net.` wrapper, built with the packages from a throwaway install (`site`)."""
    shutil.copytree(REPO / "engine", root / "engine",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    model = root / "model"
    (model / "helpers").mkdir(parents=True)
    (model / "data").mkdir()
    (model / "model_description.py").write_text(MODEL.lstrip())
    (model / "data_transform_description.py").write_text(PLUGIN_TRANSFORM.lstrip())
    (model / "helpers" / "__init__.py").write_text("")
    (model / "helpers" / "blocks.py").write_text(BLOCKS.lstrip())
    (model / "data" / "classes.json").write_text(json.dumps([f"c{i}" for i in range(1000)]))
    (model / "requirements.txt").write_text("wiz-arch\nwiz-sdist-only\ntorch>=1.8\n")
    (model / "old_run.pth").write_bytes(b"a second checkpoint the image must not carry")
    saver = (
        "import sys, torch, torch.nn as nn; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "from model_description import researcher_net\n"
        "torch.manual_seed(4)\n"
        "class Wrapper(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.net = researcher_net()\n"
        "torch.save(Wrapper().state_dict(), sys.argv[3])\n")
    subprocess.run([sys.executable, "-c", saver, str(model), str(site),
                    str(model / "researcher.pth")], check=True, cwd=str(root))
    return root


def freeze() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], check=True,
                          capture_output=True, text=True).stdout


def run_until_build(project: Path, index: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "wizard", "run", "--answers", str(project / "answers.toml"),
         "--until", "build"], cwd=str(project), capture_output=True, text=True, timeout=1500,
        stdin=subprocess.DEVNULL, env={**pip_environment(index), "COLUMNS": "200"})
    return result, time.perf_counter() - started


@pytest.mark.docker
@pytest.mark.slow
def test_a_researchers_model_goes_through_run_until_build(
        tmp_path: Path, package_index: str, docker_client, base_image: str) -> None:
    site = tmp_path / "saver-site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(site), "wiz-arch", "wiz-helper", "wiz-sdist-only",
                    "--no-build-isolation"], check=True, env=pip_environment(package_index))
    project = make_researcher_project(tmp_path / "project", site)
    answers = tiny_answers(base_image=base_image, model_class="researcher_net",
                           checkpoint="researcher.pth", tag=f"researcher-{os.getpid()}")
    save_answers(answers, project / "answers.toml")
    before = freeze()

    result, cold_s = run_until_build(project, package_index)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    cold_build = next(line for line in output.splitlines() if "over the base" in line)
    assert freeze() == before, "the run installed something into the wizard's environment"
    assert "removed the prefix 'net.' from every key" in output
    assert "torch>=1.8 left out: torch comes from the base image" in output
    assert "wheelhouse: 3 wheels" in output
    assert "another checkpoint" in output and "old_run.pth" in output
    # The wheelhouse holds what the image lacks, and nothing it has (no stand-in torch).
    wheels = sorted(p.name for p in (project / ".objectnet-wizard" / "wheelhouse").glob("*"))
    assert wheels == ["requirements.lock", "wiz_arch-1.0-py3-none-any.whl",
                      "wiz_helper-1.0-py3-none-any.whl", "wiz_sdist_only-0.5-py3-none-any.whl"]
    local = read_predictions(project / ".objectnet-wizard" / "smoke-local" / "predictions.csv")
    image = read_predictions(project / ".objectnet-wizard" / "smoke-image" / "predictions.csv")
    assert local.keys() == image.keys() and len(local) == 48
    assert all(local[name][0] == image[name][0] for name in local)
    assert all(abs(a - b) <= 5e-3 * max(a, b) + 1e-5
               for name in local for a, b in zip(local[name][1], image[name][1], strict=True))
    listing = docker_client.containers.run(
        answers.image_reference(), entrypoint=["sh", "-c"], remove=True, network_mode="none",
        command=["cd /opt/objectnet/model && find . -type f | sort"]).decode().split()
    assert listing == ["./data/classes.json", "./data_transform_description.py",
                       "./helpers/__init__.py", "./helpers/blocks.py",
                       "./model_description.py", "./requirements.txt", "./researcher.pth"]

    # A code-only change: the dependency layer comes from the cache.
    description = project / "model" / "model_description.py"
    description.write_text(description.read_text() + "\n# tuned the docstring\n")
    result, warm_s = run_until_build(project, package_index)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    lines = output.splitlines()
    pip_step = next(i for i, line in enumerate(lines) if "pip install --no-index" in line)
    assert lines[pip_step + 1].strip() == "---> Using cache"
    size = sum(p.stat().st_size for p in (project / ".objectnet-wizard" / "wheelhouse").iterdir())
    warm_build = next(line for line in output.splitlines() if "over the base" in line)
    print(f"\nwheelhouse {size} bytes; run --until build: cold {cold_s:.1f} s, after a "
          f"code-only change {warm_s:.1f} s\ncold build: {cold_build}\n"
          f"after a code-only change: {warm_build}")
    assert torch.__version__  # the wizard's own torch is untouched and importable
