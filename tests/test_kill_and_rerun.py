"""Killed at a seeded moment and run again, a command gives what a clean run gives.

Each command runs three times in its own cache, as a separate process with one BLAS thread:
once undisturbed (its clean duration is measured), once killed with SIGKILL at a moment
drawn from a seeded generator inside that duration, and once more in the cache the killed
run left. The rerun's results must equal the clean run's (wall times, energy and whether a
result was read from the cache aside), and no temporary file of an atomic write (``*.part``)
and no staging folder of the offline data set remains anywhere.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch


# The child runs the command line with a smaller offline data set than the book's, so that
# `prepare` (which makes it) takes seconds.
LAUNCHER = """
import functools, sys
from audioprune_lite import cli
from audioprune_lite.synthetic import writer
writer.make_synthetic_scenes = functools.partial(writer.make_synthetic_scenes,
                                                 clips_per_class=20, duration=1.0)
sys.exit(cli.main(sys.argv[1:]))
"""

VARYING = ["cached", "finetune_s", "wall_time_s", "energy_kwh", "cpu_energy_kwh",
           "ram_energy_kwh", "gpu_energy_kwh", "emissions_kg"]
"""Columns that legitimately differ between a run and its rerun."""


def start(argv, home: Path) -> subprocess.Popen:
    env = {**os.environ, "AUDIOPRUNE_HOME": str(home), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", LAUNCHER, *map(str, argv)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(argv, home: Path) -> float:
    """Run to the end; return the seconds it took."""
    began = time.monotonic()
    process = start(argv, home)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    return time.monotonic() - began


def leftovers(*folders: Path) -> list[Path]:
    return [path for folder in folders for pattern in ("*.part", ".synthetic-scenes-*")
            for path in folder.rglob(pattern)]


def _data_set_files(home: Path) -> dict:
    (root,) = home.glob("synthetic-scenes-*")
    return {path.relative_to(root).as_posix(): hashlib.md5(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def _features(home: Path) -> list:
    """The arrays of every feature file (named by keys that include the data set's path)."""
    digests = []
    for path in (home / "features").glob("*.npz"):
        with np.load(path) as entry:
            digests.append(tuple(hashlib.md5(entry[name].tobytes()).hexdigest() + str(entry[name].shape)
                                 for name in sorted(entry.files)))
    return sorted(digests)


def _weights(out: Path) -> dict:
    return torch.load(out / "baseline.pt", weights_only=True)["state_dict"]


def _tables(out: Path) -> dict:
    tables = {}
    for name in ("pruning_runs.csv", "fewer_examples.csv"):
        table = pd.read_csv(out / "results" / name)
        tables[name] = table.drop(columns=[c for c in VARYING if c in table.columns])
    return tables


COMMANDS = {
    "prepare": (lambda data, out: ["prepare"], lambda home, out: (_data_set_files(home), _features(home))),
    "train": (lambda data, out: ["train", "--data", data, "--epochs", "8", "--out", out / "baseline.pt"],
              lambda home, out: _weights(out)),
    "reproduce": (lambda data, out: ["reproduce", "--data", data, "--epochs", "4", "--finetune-epochs",
                                     "2", "--seeds", "0", "--out", out / "results"],
                  lambda home, out: _tables(out)),
}


def assert_equal(clean, rerun) -> None:
    if isinstance(clean, dict):
        assert clean.keys() == rerun.keys()
        for key in clean:
            assert_equal(clean[key], rerun[key])
    elif isinstance(clean, (tuple, list)):
        for a, b in zip(clean, rerun, strict=True):
            assert_equal(a, b)
    elif isinstance(clean, pd.DataFrame):
        pd.testing.assert_frame_equal(clean, rerun)
    elif isinstance(clean, torch.Tensor):
        assert torch.equal(clean, rerun)
    else:
        np.testing.assert_array_equal(clean, rerun)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_killed_run_then_a_rerun_equals_a_clean_run(command, tiny_data, tmp_path):
    argv, results = COMMANDS[command]
    clean_home, clean_out = tmp_path / "clean-home", tmp_path / "clean-out"
    home, out = tmp_path / "home", tmp_path / "out"
    clean_out.mkdir(), out.mkdir()
    seconds = finish(argv(tiny_data, clean_out), clean_home)

    moment = random.Random(f"kill {command}").uniform(0.4, 0.9) * seconds
    process = start(argv(tiny_data, out), home)
    try:
        process.wait(timeout=moment)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, f"{command} ended before {moment:.1f} s"

    finish(argv(tiny_data, out), home)
    assert_equal(results(clean_home, clean_out), results(home, out))
    assert leftovers(home, out) == []
