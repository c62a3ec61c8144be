"""Engine integrity (issue 11): every image found is accounted for, every name can be read back
by the scorer, and every failure is loud. Each test runs the real command line on real files:
special files, symlink loops, names that need quoting, models that misbehave.

Runs that could read endless input (/dev/zero, FIFOs, loops, sparse files) go through
`guarded()`: a child process group with an address-space limit and a timeout, so a regression
fails the test instead of exhausting the shared machine.
"""

from __future__ import annotations

import csv
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from support import REPO, engine_command, save_checkpoint, write_plugin

from engine.validate import validate_file
from wizard.samples import make_images

MEMORY_LIMIT = 6 << 30
TIMEOUT_S = 240

MISBEHAVING_MODELS = '''

class drops_rows(tiny):
    """One row short for every batch of more than one image (the start-up check passes)."""

    def forward(self, x):
        out = super().forward(x)
        return out[:-1] if x.shape[0] > 1 else out


class extra_rows(tiny):
    def forward(self, x):
        out = super().forward(x)
        return torch.cat([out, out[:1]]) if x.shape[0] > 1 else out


class nan_on_white(tiny):
    """NaN scores for very bright images only (the start-up image is grey)."""

    def forward(self, x):
        out = super().forward(x)
        white = x.flatten(1).mean(1) > 2.0
        return torch.where(white[:, None], torch.full_like(out, float("nan")), out)


class exits_on_build(tiny):
    def __init__(self):
        import sys
        sys.exit(4)


class exits_in_forward(tiny):
    def forward(self, x):
        if x.shape[0] > 1:
            import sys
            sys.exit(5)
        return super().forward(x)


class slow(tiny):
    def forward(self, x):
        import time
        time.sleep(0.3)
        return super().forward(x)
'''


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_plugin(tmp_path_factory.mktemp("misbehaving"))
    with open(folder / "model_description.py", "a") as handle:
        handle.write(MISBEHAVING_MODELS)
    return folder


@pytest.fixture(scope="module")
def checkpoint(models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(models, "tiny", tmp_path_factory.mktemp("ck") / "tiny.pth")


def guarded(*args: object, timeout: float = TIMEOUT_S, env: dict | None = None
            ) -> subprocess.CompletedProcess:
    """The engine's command line in its own process group, limited to MEMORY_LIMIT of address
    space (loader workers inherit it) and killed whole after `timeout` seconds."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    command = engine_command(*args)
    process = subprocess.Popen(command, cwd=str(REPO), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=limit,
                               start_new_session=True, env=env)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"the engine ran past {timeout} s (killed): {command}")
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def run(models: Path, folder: Path, out: Path, model: str, checkpoint: Path, *extra: object
        ) -> subprocess.CompletedProcess:
    return guarded(folder, out, model, checkpoint, "--model-dir", models, "--workers", "1",
                   "--batch_size", "4", *extra)


def read_back(path: Path) -> list[list[str]]:
    """Rows as the scorer reads them: csv.reader over the file."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def failed(result: subprocess.CompletedProcess, code: int, out: Path) -> str:
    """The last line of a run that must have failed with `code` and written nothing."""
    assert result.returncode == code, result.stderr
    assert not out.exists()
    return one_line(result)


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    return lines[-1] if lines else ""


# 1. rows dropped or added by the model


@pytest.mark.parametrize("model, shown", [("drops_rows", "returned 7 rows for 8 images"),
                                          ("extra_rows", "returned 9 rows for 8 images")])
def test_a_model_that_drops_or_adds_rows_fails_the_run(models, checkpoint, tmp_path, model,
                                                       shown):
    folder = tmp_path / "in"
    make_images(folder, 9, seed=3)
    out = tmp_path / "out" / "p.csv"
    result = run(models, folder, out, model, checkpoint, "--batch_size", "8")
    line = failed(result, 1, out)
    assert model in line and shown in line, line


# 2. names that need quoting; names the scorer cannot read back


def test_names_that_need_quoting_read_back_as_written(models, checkpoint, tmp_path):
    folder = tmp_path / "in"
    names = ['a,b.png', 'say "cheese".png', ' lead.png', "semi;colon.png", "plain.png"]
    for index, name in enumerate(names):
        make_images(folder, 1, seed=20 + index)[0].rename(folder / name)
    out = tmp_path / "p.csv"
    result = run(models, folder, out, "tiny", checkpoint)
    assert result.returncode == 0, result.stderr
    rows = read_back(out)
    assert all(len(row) == 11 for row in rows)
    assert [row[0] for row in rows] == sorted(names)
    assert validate_file(out)["prediction_file_status"] == "VALIDATED"


def test_names_the_scorer_cannot_read_back_are_refused_at_the_scan(models, checkpoint,
                                                                     tmp_path):
    folder = tmp_path / "in"
    make_images(folder, 2, seed=4)
    good = make_images(tmp_path / "spare", 3, seed=5)
    os.rename(bytes(good[0]), os.path.join(os.fsencode(folder), b"bad\xff.png"))
    good[1].rename(folder / "two\nlines.png")
    good[2].rename(folder / "carriage\rreturn.png")
    out = tmp_path / "out" / "p.csv"
    result = run(models, folder, out, "tiny", checkpoint)
    assert result.returncode == 2, result.stderr
    line = one_line(result)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "3 file name(s)" in line and "bad\\xff.png" in line and "two\\nlines.png" in line
    assert not out.parent.exists()


# 3. special files and endless trees


def test_special_files_and_loops_get_rows_not_hangs(models, checkpoint, tmp_path):
    folder = tmp_path / "in"
    good = [p.name for p in make_images(folder, 3, seed=6)]
    good += [p.name for p in make_images(folder / "a", 2, seed=7)]
    (folder / "zero.png").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.png")
    with open(folder / "sparse.png", "wb") as handle:
        handle.truncate(2 << 30)
    (folder / "a" / "up").symlink_to("..")
    (folder / "b").mkdir()
    (folder / "b" / "up").symlink_to("../..")
    out = tmp_path / "p.csv"
    result = run(models, folder, out, "tiny", checkpoint)
    assert result.returncode == 3, result.stderr
    rows = {row[0]: row[1:] for row in read_back(out)}
    assert sorted(rows) == sorted([*good, "zero.png", "fifo.png", "sparse.png"])
    for name in ("zero.png", "fifo.png", "sparse.png"):
        assert rows[name][::2] == ["-1"] * 5
    assert "unreadable: zero.png: not a regular file (a character device)" in result.stderr
    assert "unreadable: fifo.png: not a regular file (a FIFO)" in result.stderr
    assert "unreadable: sparse.png: 2048 MB is over the 256 MB limit" in result.stderr
    assert all(rows[name][::2] != ["-1"] * 5 for name in good)


def test_the_byte_limit_can_be_raised(models, checkpoint, tmp_path):
    folder = tmp_path / "in"
    make_images(folder, 2, seed=8, sizes=((2048, 1536),))
    out = tmp_path / "p.csv"
    result = run(models, folder, out, "tiny", checkpoint, "--max-image-mb", "1")
    assert result.returncode == 3, result.stderr
    assert "over the 1 MB limit (--max-image-mb)" in result.stderr
    result = run(models, folder, out, "tiny", checkpoint, "--max-image-mb", "64",
                 "--overwrite")
    assert result.returncode == 0, result.stderr


def test_a_single_symlink_loop_is_walked_once(models, checkpoint, tmp_path):
    folder = tmp_path / "in"
    make_images(folder / "sub", 3, seed=9)
    (folder / "sub" / "back").symlink_to("..")
    out = tmp_path / "p.csv"
    result = run(models, folder, out, "tiny", checkpoint)
    assert result.returncode == 0, result.stderr
    assert len(read_back(out)) == 3


# 4. folders the scan cannot read


def _deep_folder(root: Path, length: int) -> bytes:
    """A chain of folders under `root` whose path is over `length` bytes, made with dir_fd
    (mkdir refuses a path over PATH_MAX); returns the deepest one's path."""
    part = "d" * 200
    fd = os.open(str(root), os.O_RDONLY)
    path = str(root)
    while len(path) <= length:
        os.mkdir(part, dir_fd=fd)
        inner = os.open(part, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
        path += "/" + part
    image = make_images(root.parent / "spare-deep", 1, seed=10)[0]
    with open(os.open("deep.png", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as handle:
        handle.write(image.read_bytes())
    os.close(fd)
    return os.fsencode(path)


def test_a_folder_the_scan_cannot_read_fails_the_run(models, checkpoint, tmp_path):
    folder = tmp_path / "in"
    make_images(folder, 2, seed=11)
    _deep_folder(folder, os.pathconf("/", "PC_PATH_MAX"))
    out = tmp_path / "out" / "p.csv"
    result = run(models, folder, out, "tiny", checkpoint)
    assert result.returncode == 2, result.stderr
    line = one_line(result)
    assert "cannot search 1 folder" in line and "File name too long" in line, line
    assert not out.parent.exists()


# 5. NaN and Inf


def test_nan_weights_are_a_model_error_before_any_image(models, tmp_path, images):
    torch.manual_seed(0)
    from engine.plugin import build_model

    model = build_model(models, "tiny")
    state = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    path = tmp_path / "nan.pth"
    torch.save(state, str(path))
    out = tmp_path / "p.csv"
    result = run(models, images, out, "tiny", path)
    line = failed(result, 2, out)
    assert "not finite (NaN or Inf)" in line and "tiny" in line, line


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("one_pass", [True, False])
def test_one_bad_value_anywhere_makes_weights_not_finite(bad, dtype, one_pass, monkeypatch):
    """The start-up check reduces to min and max (no elementwise mask); one NaN or Inf in a
    big tensor, at its first, middle or last element, must still be found, with torch's
    aminmax and with the min/max pair older torch has."""
    from engine import compat

    monkeypatch.setattr(compat, "HAS_AMINMAX", one_pass and compat.HAS_AMINMAX)
    weights = torch.randn(64, 32, 3, 3).to(dtype)
    assert compat.all_finite(weights)
    for index in (0, weights.numel() // 2, weights.numel() - 1):
        spoiled = weights.clone()
        spoiled.view(-1)[index] = bad
        assert not compat.all_finite(spoiled), (index, bad, dtype)


@pytest.mark.parametrize("one_pass", [True, False])
def test_an_empty_tensor_is_finite(one_pass, monkeypatch):
    """A zero-width layer (a pruned head, an empty bias) has no values: nothing to reject,
    and min/max of nothing must not be reached."""
    from engine import compat

    monkeypatch.setattr(compat, "HAS_AMINMAX", one_pass and compat.HAS_AMINMAX)
    for shape in [(0,), (0, 3), (4, 0, 3, 3)]:
        for dtype in (torch.float32, torch.float16):
            assert compat.all_finite(torch.empty(shape, dtype=dtype)), (shape, dtype)


def test_nan_scores_for_some_images_give_their_rows_minus_one(models, checkpoint, tmp_path):
    folder = tmp_path / "in"
    make_images(folder, 4, seed=12)
    Image.new("RGB", (300, 200), (255, 255, 255)).save(folder / "white.png")
    out = tmp_path / "p.csv"
    result = run(models, folder, out, "nan_on_white", checkpoint)
    assert result.returncode == 3, result.stderr
    rows = {row[0]: row[1:] for row in read_back(out)}
    assert rows["white.png"][::2] == ["-1"] * 5
    assert "unreadable: white.png: the model's scores for it are not finite" in result.stderr
    assert sum(r[::2] == ["-1"] * 5 for r in rows.values()) == 1
    assert validate_file(out)["prediction_file_status"] == "VALIDATED"


# 6. sys.exit() in the user's code


def _plugin_with(tmp_path: Path, models: str = "", transform: str = "") -> Path:
    folder = write_plugin(tmp_path / "plugin")
    if models:
        (folder / "model_description.py").write_text(models)
    if transform:
        (folder / "data_transform_description.py").write_text(transform)
    return folder


EXITING_TRANSFORM = '''
import sys


class data_transform:
    def getTransform(self):
        sys.exit(0)
'''

EXITING_PER_IMAGE = '''
import sys
import torchvision.transforms as transforms


def exit_on_tall(image):
    if image.size[1] > image.size[0]:
        sys.exit(6)
    return image


class data_transform:
    def getTransform(self):
        return transforms.Compose([exit_on_tall, transforms.Resize(72),
                                   transforms.CenterCrop(64), transforms.ToTensor()])
'''


@pytest.mark.parametrize("case", ["import", "build", "getTransform"])
def test_sys_exit_at_start_up_is_a_model_error(models, checkpoint, images, tmp_path, case):
    model_dir, model = models, "tiny"
    if case == "import":
        model_dir = _plugin_with(tmp_path, models="import sys\nsys.exit(3)\n")
    elif case == "build":
        model = "exits_on_build"
    else:
        model_dir = _plugin_with(tmp_path, transform=EXITING_TRANSFORM)
    out = tmp_path / "p.csv"
    result = guarded(images, out, model, checkpoint, "--model-dir", model_dir, "--workers", "0")
    line = failed(result, 2, out)
    assert "sys.exit(" in line and ".py" in line, line


def test_sys_exit_in_forward_mid_run_fails_the_run(models, checkpoint, images, tmp_path):
    out = tmp_path / "p.csv"
    result = run(models, images, out, "exits_in_forward", checkpoint)
    line = failed(result, 1, out)
    assert "exits_in_forward" in line and "sys.exit(5)" in line, line


def _wide_and_tall(tmp_path: Path, transform: str, wide: int, tall: int,
                   size: tuple[int, int]) -> tuple[Path, Path, Path]:
    """(a plug-in folder with `transform`, a folder of `wide` images of `size` and `tall`
    ones of the transposed size, named tall*, the output path)."""
    model_dir = _plugin_with(tmp_path, transform=transform)
    folder = tmp_path / "in"
    make_images(folder, wide, seed=13, sizes=(size,))
    make_images(folder, tall, seed=14, sizes=(size[::-1],), prefix="tall")
    return model_dir, folder, tmp_path / "p.csv"


@pytest.mark.parametrize("workers", ["0", "1"])
def test_sys_exit_in_the_transform_for_one_image_gives_a_row(models, checkpoint, tmp_path,
                                                             workers):
    model_dir, folder, out = _wide_and_tall(tmp_path, EXITING_PER_IMAGE, 4, 1, (300, 200))
    result = guarded(folder, out, "tiny", checkpoint, "--model-dir", model_dir,
                     "--workers", workers)
    assert result.returncode == 3, result.stderr
    assert "the transform failed on it: it called sys.exit(6)" in result.stderr
    assert len(read_back(out)) == 5


# 7. an output inside the images folder


@pytest.mark.parametrize("where", ["inside", "an input image"])
def test_an_output_inside_the_images_folder_is_refused(models, checkpoint, tmp_path, where):
    folder = tmp_path / "in"
    image = make_images(folder, 2, seed=15)[0]
    before = image.read_bytes()
    out = folder / "results" / "p.csv" if where == "inside" else image
    result = run(models, folder, out, "tiny", checkpoint, "--overwrite")
    assert result.returncode == 2, result.stderr
    assert "inside the images folder" in one_line(result)
    assert image.read_bytes() == before
    assert not (folder / "results").exists()


# 8. the message for a malicious pickle


class _Exploit:
    def __reduce__(self):
        return (os.system, ("true",))


def test_a_malicious_pickle_is_named_and_trust_is_not_suggested(models, images, tmp_path):
    path = tmp_path / "exploit.pth"
    torch.save({"weights": torch.zeros(1), "payload": _Exploit()}, str(path))
    out = tmp_path / "p.csv"
    result = run(models, images, out, "tiny", path)
    assert result.returncode == 2, result.stderr
    line = one_line(result)
    assert "posix.system" in line and "not a torch model class" in line, line
    assert "pass --trust-checkpoint" not in line and "weights_only=False" not in line


def test_a_whole_pickled_model_still_suggests_trust(models, images, tmp_path):
    from engine.plugin import build_model

    path = tmp_path / "whole.pth"
    torch.save(build_model(models, "tiny"), str(path))
    out = tmp_path / "p.csv"
    result = run(models, images, out, "tiny", path)
    assert result.returncode == 2, result.stderr
    line = one_line(result)
    assert "model_description.tiny" in line and "pass --trust-checkpoint" in line, line


# 9. the smaller ones


def test_a_checkpoint_folder_is_called_a_folder(models, images, tmp_path):
    result = run(models, images, tmp_path / "p.csv", "tiny", tmp_path)
    assert result.returncode == 2
    assert "is a folder" in one_line(result)


def test_a_huge_batch_size_is_a_usage_error(models, checkpoint, images, tmp_path):
    result = run(models, images, tmp_path / "p.csv", "tiny", checkpoint,
                 "--batch_size", "100000000000000000000")
    assert result.returncode == 2, result.stderr
    assert "--batch_size" in one_line(result)


def test_a_config_error_leaves_no_folders_behind(models, checkpoint, images, tmp_path):
    out = tmp_path / "new" / "deeper" / "p.csv"
    result = run(models, images, out, "nosuch", checkpoint)
    assert result.returncode == 2, result.stderr
    assert not (tmp_path / "new").exists()


VARIABLE_SIZE = '''
import torchvision.transforms as transforms


class data_transform:
    def getTransform(self):
        return transforms.Compose([transforms.Resize(48), transforms.ToTensor()])
'''


def test_a_transform_with_varying_sizes_names_the_reason(models, checkpoint, tmp_path):
    model_dir, folder, out = _wide_and_tall(tmp_path, VARIABLE_SIZE, 3, 2, (480, 270))
    result = guarded(folder, out, "tiny", checkpoint, "--model-dir", model_dir,
                     "--workers", "1", "--batch_size", "8")
    assert result.returncode == 3, result.stderr
    assert "Caught RuntimeError" not in result.stderr
    # Each of the two tall images: once as it happens, once in the summary.
    assert result.stderr.count("the transform gave a [3, 85, 48] tensor, not [3, 48, 85]") == 4
    rows = {row[0]: row[1:] for row in read_back(out)}
    assert sum(r[::2] == ["-1"] * 5 for r in rows.values()) == 2


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"),
                                               (signal.SIGINT, 130, "interrupted")])
def test_a_signal_says_so_and_takes_the_loader_workers_with_it(models, checkpoint, tmp_path,
                                                               signum, code, word):
    folder = tmp_path / "in"
    make_images(folder, 40, seed=18)
    out = tmp_path / "p.csv"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    process = subprocess.Popen(
        engine_command(folder, out, "slow", checkpoint, "--model-dir", models, "--workers", "2",
                       "--batch_size", "2"),
        cwd=str(REPO), stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=limit)
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("predicting"):
                break
        time.sleep(1.0)
        workers = _children(process.pid)
        assert len(workers) >= 2
        process.send_signal(signum)
        rest = process.stderr.read()
        assert process.wait(timeout=30) == code
        assert word in rest.strip().splitlines()[-1] and "Traceback" not in rest
        deadline = time.monotonic() + 1.0
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in workers)
        assert not out.exists()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# 10. torchrun on two "machines" that do not share the output folder


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare for a private mount namespace")
def test_torchrun_across_nodes_without_a_shared_folder(models, checkpoint, images, tmp_path):
    common = ("tiny", checkpoint, "--model-dir", models, "--workers", "1", "--gpus", "0",
              "--batch_size", "4")
    single = tmp_path / "single" / "p.csv"
    assert run(models, images, single, *common[:2]).returncode == 0
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def node(rank: int) -> list[str]:
        return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank",
                str(rank), "--nproc_per_node", "1", "--master_addr", "127.0.0.1",
                "--master_port", str(port), "-m", "engine",
                *[str(a) for a in (images, outputs / "p.csv", *common)]]

    # Node 1 sees its own empty tmpfs where node 0 sees the real output folder.
    script = f'mount -t tmpfs private {outputs} && exec "$@"'
    commands = [node(0), ["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                          "node1", *node(1)]]
    logs = [tmp_path / "node0.log", tmp_path / "node1.log"]
    procs = []
    try:
        for command, log in zip(commands, logs, strict=True):
            with open(log, "w") as handle:
                procs.append(subprocess.Popen(command, cwd=str(REPO), env=env, stdout=handle,
                                              stderr=subprocess.STDOUT,
                                              start_new_session=True))
        codes = [proc.wait(timeout=TIMEOUT_S) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert codes == [0, 0], logs[0].read_text()[-3000:] + logs[1].read_text()[-3000:]
    assert (outputs / "p.csv").read_text() == single.read_text()
    assert [p.name for p in outputs.iterdir()] == ["p.csv"]
