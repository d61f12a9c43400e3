"""The command line on a user's mistakes and the machine's bad days.

Every case ends in one line on standard error that names the file or option and says what
to do, with the README's exit code (1 a failure, 2 wrong arguments, 130 interrupted), and
leaves nothing half-written. Faults of the machine are made real where a test can: a
read-only bind mount and a small tmpfs when the tests may mount (as root in CI), otherwise
the same ``OSError`` injected where the package opens a file.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from audioprune_lite import cli
from audioprune_lite.train import SAVE_FORMAT, load_model

PYTHON = [sys.executable, "-m", "audioprune_lite"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.getbasetemp() / "home"
    monkeypatch.setenv("AUDIOPRUNE_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def baseline(tiny_data, tmp_path_factory):
    """A baseline trained for one epoch on the tiny data set, in its own folder."""
    path = tmp_path_factory.mktemp("baseline") / "baseline.pt"
    os.environ.setdefault("AUDIOPRUNE_HOME", str(tmp_path_factory.getbasetemp() / "home"))
    assert cli.main(["train", "--data", str(tiny_data), "--epochs", "1", "--out", str(path)]) == 0
    return path


def run(capsys, *argv) -> tuple[int, str]:
    """Run the command line in this process; return its exit code and its standard error.

    An exception escaping ``cli.main`` fails the test: that is the traceback a user sees.
    """
    try:
        code = cli.main([str(arg) for arg in argv])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    return code, capsys.readouterr().err


def the_error(err: str, command: str) -> str:
    """The one line of an error message; fails on anything more.

    Argparse's usage lines and progress bars (``tqdm``'s ``NN%|``) are not part of it.
    """
    lines = [line for line in err.splitlines() if line.strip()
             and not line.startswith(("usage:", " ")) and not re.search(r"\d+%\|", line)]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"audioprune {command}"), lines[0]
    return lines[0]


def leftovers(*folders: Path) -> list[Path]:
    """Temporary files of :func:`audioprune_lite.store.atomic_write` left in ``folders``."""
    return [path for folder in folders if folder.exists() for path in folder.rglob("*.part")]


# Wrong arguments: exit 2, one line naming the option -----------------------------------

@pytest.mark.parametrize("argv, option", [  # (each would fail on --data nowhere, exit 3, after)
    (["train", "--data", "nowhere", "--epochs", "0"], "--epochs"),
    (["finetune", "--data", "nowhere", "--model", "m.pt", "--epochs", "0"], "--epochs"),
    (["reproduce", "--data", "nowhere", "--finetune-epochs", "-1"], "--finetune-epochs"),
    (["prune", "--data", "nowhere", "--model", "m.pt", "--ratio", "1.5"], "--ratio"),
    (["prune", "--data", "nowhere", "--model", "m.pt", "--ratio", "0"], "--ratio"),
    (["finetune", "--data", "nowhere", "--model", "m.pt", "--fraction", "2"], "--fraction"),
    (["finetune", "--data", "nowhere", "--model", "m.pt", "--fraction", "0"], "--fraction"),
    (["reproduce", "--data", "nowhere", "--seeds", "a,b"], "--seeds"),
    (["reproduce", "--data", "nowhere", "--seeds", ","], "--seeds"),
    (["prepare", "--data", "nowhere", "--clip-seconds", "0"], "--clip-seconds"),
    (["prepare", "--data", "nowhere", "--clip-seconds", "inf"], "--clip-seconds"),
    (["prepare", "--data", "nowhere", "--clip-seconds", "nan"], "--clip-seconds"),
    (["prepare", "--data", "nowhere", "--clip-seconds", "1e9"], "--clip-seconds"),
])
def test_a_value_out_of_range_is_an_argument_error(capsys, argv, option):
    code, err = run(capsys, *argv)
    assert code == 2
    assert option in the_error(err, argv[0])


@pytest.mark.parametrize("extra", [["--layers", "conv9"], ["--layers", "conv9", "--ratio", "0.5"],
                                   ["--layers", ",,"], ["--layers", "conv2", "--ratio", "0.01"]])
def test_layers_that_prune_nothing_are_argument_errors(capsys, tiny_data, baseline, tmp_path, extra):
    out = tmp_path / "pruned.pt"
    code, err = run(capsys, "prune", "--data", tiny_data, "--model", baseline, *extra, "--out", out)
    assert code == 2
    line = the_error(err, "prune")
    assert ("--layers" in line or "--ratio" in line) and not out.exists()


# Bad files: exit 1, one line naming the file ---------------------------------------------

def _malformed_checkpoints(good: dict) -> dict:
    """Payloads that ``torch.load(weights_only=True)`` reads but that are not a usable model."""
    nan_weights = {key: value.clone() for key, value in good["state_dict"].items()}
    nan_weights["conv1.weight"][0, 0, 0, 0] = float("nan")
    return {
        "no state_dict": {key: value for key, value in good.items() if key != "state_dict"},
        "empty state_dict": {**good, "state_dict": {}},
        "config not a mapping": {**good, "config": [1, 2]},
        "unknown config key": {**good, "config": {**good["config"], "layers": 9}},
        "wrong shapes": {**good, "state_dict": {key: value[:1] if value.dim() else value
                                                for key, value in good["state_dict"].items()}},
        "NaN weights": {**good, "state_dict": nan_weights},
    }


def test_a_malformed_checkpoint_is_refused_by_name(capsys, tiny_data, baseline, tmp_path):
    good = torch.load(baseline, weights_only=True)
    assert good["format"] == SAVE_FORMAT
    for case, payload in _malformed_checkpoints(good).items():
        path = tmp_path / f"{case.replace(' ', '-')}.pt"
        torch.save(payload, path)
        code, err = run(capsys, "finetune", "--data", tiny_data, "--model", path, "--epochs", "1",
                        "--out", tmp_path / "out.pt")
        assert code == 1, case
        assert str(path) in the_error(err, "finetune"), case
        assert not (tmp_path / "out.pt").exists()


def test_a_wav_that_is_a_symlink_loop_is_named(capsys, tiny_data, tmp_path):
    copy = tmp_path / "scenes"
    subprocess.run(["cp", "-r", str(tiny_data), str(copy)], check=True)
    victim = sorted((copy / "audio").glob("*.wav"))[0]
    victim.unlink()
    victim.symlink_to(victim.name)  # a link to itself
    code, err = run(capsys, "prepare", "--data", copy)
    assert code == 1
    assert victim.name in the_error(err, "prepare")


# The machine's state: read-only places, a full disk, a cache that is a file ------------------

def _can_mount() -> bool:
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"audioprune-mount-probe-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                              capture_output=True).returncode == 0
        if done:
            subprocess.run(["umount", str(folder)], check=True)
        return done
    except OSError:
        return False
    finally:
        folder.rmdir()


CAN_MOUNT = _can_mount()


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A folder that cannot be written to: a read-only bind mount, or injected EROFS errors."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    (folder / "inside").mkdir()
    if CAN_MOUNT:
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
        return
    _inject(monkeypatch, folder, errno.EROFS)
    yield folder


@pytest.fixture
def full_disk(tmp_path, monkeypatch):
    """A folder on a disk with 16 KiB free: a tmpfs, or injected ENOSPC errors."""
    folder = tmp_path / "full"
    folder.mkdir()
    if CAN_MOUNT:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)], check=True)
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
        return
    _inject(monkeypatch, folder, errno.ENOSPC)
    yield folder


def _inject(monkeypatch, folder: Path, code: int) -> None:
    """Make opening a file for writing, and making a folder, under ``folder`` fail with ``code``."""
    real_open, real_mkdir = os.open, os.mkdir

    def inside(path) -> bool:
        return Path(os.path.abspath(path)).is_relative_to(folder)

    def failing_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    def failing_mkdir(path, *args, **kwargs):
        if inside(path):
            raise OSError(code, os.strerror(code), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing_open)
    monkeypatch.setattr(os, "mkdir", failing_mkdir)


@pytest.mark.parametrize("place", ["read-only", "a folder"])
def test_an_unwritable_out_is_refused_before_any_work(capsys, tiny_data, baseline, tmp_path,
                                                      read_only, place, monkeypatch):
    out = {"read-only": read_only / "inside" / "tuned.pt", "a folder": tmp_path}[place]
    trained = []
    monkeypatch.setattr("audioprune_lite.experiments.fit",
                        lambda *args, **kwargs: trained.append(1) or pytest.fail("trained"))
    code, err = run(capsys, "finetune", "--data", tiny_data, "--model", baseline, "--epochs", "1",
                    "--out", out)
    assert code == 1
    assert str(out) in the_error(err, "finetune") and not trained
    assert leftovers(out.parent) == []


def test_a_disk_that_fills_while_saving_leaves_nothing_half_written(capsys, tiny_data, baseline,
                                                                    full_disk):
    out = full_disk / "tuned.pt"
    assert baseline.stat().st_size > 16 * 1024  # too big for the tmpfs: the write itself fails
    code, err = run(capsys, "finetune", "--data", tiny_data, "--model", baseline, "--epochs", "1",
                    "--out", out)
    assert code == 1
    assert str(out) in the_error(err, "finetune")
    assert not out.exists() and leftovers(full_disk) == []


def test_a_read_only_cache_still_writes_out(capsys, tiny_data, baseline, tmp_path, read_only,
                                           monkeypatch):
    monkeypatch.setenv("AUDIOPRUNE_HOME", str(read_only / "inside"))
    out = tmp_path / "tuned.pt"
    code, err = run(capsys, "finetune", "--data", tiny_data, "--model", baseline, "--epochs", "1",
                    "--out", out)
    assert code == 0 and load_model(out).config == load_model(baseline).config
    assert "cannot be cached" in err and str(read_only) in err
    assert "Traceback" not in err and list(read_only.rglob("*")) == [read_only / "inside"]


@pytest.mark.parametrize("home", ["a file", "read-only"])
def test_an_unusable_cache_home_is_one_line(capsys, tmp_path, read_only, monkeypatch, home):
    path = {"a file": tmp_path / "file", "read-only": read_only / "inside"}[home]
    if home == "a file":
        path.write_text("not a folder")
    monkeypatch.setenv("AUDIOPRUNE_HOME", str(path))
    code, err = run(capsys, "prepare")
    assert code == 1
    line = the_error(err, "prepare")
    assert "AUDIOPRUNE_HOME" in line and str(path) in line


# The output stream and Ctrl-C -------------------------------------------------------------

def test_a_reader_that_stops_reading_ends_it_quietly(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "pruning_summary.md").write_text("a long table\n" * 100_000)  # more than a pipe holds
    process = subprocess.Popen([*PYTHON, "report", "--results", str(results)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline() == b"a long table\n"
    process.stdout.close()  # as `| head -1` does
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert err == ""


def test_ctrl_c_exits_130_with_one_line_and_nothing_half_written(tiny_data, tmp_path):
    home = tmp_path / "home"
    out = tmp_path / "results"
    process = subprocess.Popen(
        [*PYTHON, "reproduce", "--data", str(tiny_data), "--epochs", "100", "--finetune-epochs", "50", "--seeds", "0",
         "--no-fewer-examples", "--out", str(out)],
        env={**os.environ, "AUDIOPRUNE_HOME": str(home), "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(home.glob("features/*.npz")) and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until it is training
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    out_text, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and lines[0].startswith("audioprune reproduce")
    assert leftovers(home, out) == []


def test_the_readme_table_of_exit_codes_is_true(capsys, tmp_path, monkeypatch):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    rows = re.findall(r"^\| (\d+) \| (.+?) \| (.+?) \|$", readme, flags=re.MULTILINE)
    assert [int(code) for code, _, _ in rows] == [0, 1, 2, 3, 130]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "pruning_summary.md").write_text("a finished run\n")
    for code, _, example in rows:
        if code == "130":  # Ctrl-C: test_ctrl_c_exits_130_with_one_line_and_nothing_half_written
            assert "Ctrl-C" in example
            continue
        command = re.match(r"`audioprune ([^`]+)`", example).group(1).split()
        got, err = run(capsys, *command)
        assert got == int(code), (example, err)
        if got:
            the_error(err, command[0])
