"""The study on a Ray cluster gives the local engine's tables, survives a dead node and a dead driver.

Every Ray test runs inside a network namespace that holds only loopback (``unshare -n`` as
root, ``unshare -rn`` elsewhere), made here for one subprocess, ``tests/ray_cluster.py``,
which starts one cluster of loopback nodes and runs the study on it in four ways (see its
docstring). Without a way to make the namespace the tests are skipped, except in CI
(``CI=true``), where they must run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from test_kill_and_rerun import VARYING, leftovers

ROOT = Path(__file__).resolve().parents[1]
STUDY_TABLES = ("pruning_runs.csv", "fewer_examples.csv")
RUN_LINE = re.compile(r"^run (\d+)/(\d+) (.+): node ([0-9a-f]{8}) \((\S+)\)$", re.M)
TOTAL_RUNS = 1 + 5 + 8
"""The small study's training runs: the baseline, five fine-tuning runs (the unpruned network
and two layer sets by two criteria), eight fewer-examples runs (four starts at two shares)."""

pytest.importorskip("ray", reason="Ray is in the [scale] extra")


def namespace_prefix() -> list[str]:
    """The command that runs what follows in a network namespace with only loopback, up."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return []
    for unshare in (["unshare", "-n"], ["unshare", "-rn"]):
        if subprocess.run([*unshare, "ip", "link", "set", "lo", "up"], capture_output=True).returncode == 0:
            return [*unshare, "sh", "-c", 'ip link set lo up && exec "$0" "$@"']
    return []


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """The module's small data set: a few 1-s clips per class."""
    root = tmp_path_factory.mktemp("ray") / "scenes"
    subprocess.run([sys.executable, str(ROOT / "data_scripts" / "make_synthetic_scenes.py"),
                    "--root", str(root), "--clips-per-class", "12", "--no-progress"],
                   check=True, capture_output=True)
    return root


@pytest.fixture(scope="module")
def local(scenes, tmp_path_factory):
    """The same study with the local engine, one thread per run, in its own empty cache."""
    work = tmp_path_factory.mktemp("local")
    from ray_cluster import STUDY

    subprocess.run([sys.executable, "-m", "audioprune_lite", "reproduce", "--data", str(scenes),
                    *STUDY, "--threads-per-run", "1", "--out", str(work / "out")],
                   env={**os.environ, "AUDIOPRUNE_HOME": str(work / "home")}, check=True,
                   capture_output=True)
    return {name: pd.read_csv(work / "out" / name) for name in STUDY_TABLES}


@pytest.fixture(scope="module")
def cluster(scenes, tmp_path_factory):
    """What ``tests/ray_cluster.py`` saw, run in a loopback-only network namespace."""
    prefix = namespace_prefix()
    if not prefix:
        if os.environ.get("CI") == "true":
            pytest.fail("cannot make a network namespace (unshare -n or -rn) for the Ray tests")
        pytest.skip("cannot make a network namespace with unshare here")
    work = tmp_path_factory.mktemp("cluster")
    process = subprocess.run([*prefix, sys.executable, str(ROOT / "tests" / "ray_cluster.py"),
                              str(scenes), str(work)], capture_output=True, text=True, timeout=900,
                             env={**os.environ, "PYTHONPATH": str(ROOT / "tests")})
    assert process.returncode == 0, process.stderr[-3000:]
    return work, json.loads((work / "scenarios.json").read_text())


def tables(folder: Path) -> dict:
    return {name: pd.read_csv(folder / name) for name in STUDY_TABLES}


def assert_same_study(got: dict, expected: dict) -> None:
    """Equal tables, accuracy exact; timing, energy and cache columns aside."""
    for name in STUDY_TABLES:
        varying = [column for column in VARYING if column in expected[name]]
        pd.testing.assert_frame_equal(got[name].drop(columns=varying),
                                      expected[name].drop(columns=varying), check_exact=True)


def test_every_node_has_a_loopback_address(cluster):
    _, seen = cluster
    assert seen["node addresses"] and all(address.startswith("127.") for address in seen["node addresses"])


def test_a_dead_node_changes_nothing_in_the_tables(cluster, local):
    work, seen = cluster
    node = seen["node dies"]
    assert node["code"] == 0 and node["killed"], node["stderr"][-2000:]
    assert_same_study(tables(work / "out-node"), local)
    lines = RUN_LINE.findall(node["stderr"])
    assert len(lines) == TOTAL_RUNS
    assert len({node_id for *_, node_id, _ in lines}) >= 2
    where = pd.read_csv(work / "out-node" / "cluster_runs.csv")
    assert len(where) == TOTAL_RUNS and where["ip"].str.startswith("127.").all()
    energy = pd.read_csv(work / "out-node" / "energy.csv")
    assert {"phase", "node", "energy (kWh)", "measured"} <= set(energy.columns)
    assert energy["training runs"].sum() == TOTAL_RUNS
    assert not leftovers(work / "home-node")
    assert not any((work / "worker-home").iterdir()), "a worker wrote to its AUDIOPRUNE_HOME"


def test_a_rerun_after_the_driver_died_trains_only_the_rest(cluster, local):
    work, seen = cluster
    rerun = seen["driver dies"]
    assert 1 <= rerun["cached_at_kill"] < TOTAL_RUNS
    assert rerun["code"] == 0, rerun["stderr"][-2000:]
    assert len(RUN_LINE.findall(rerun["stderr"])) == TOTAL_RUNS - rerun["cached_at_kill"]
    assert_same_study(tables(work / "out-driver"), local)
    assert not leftovers(work / "home-driver")


@pytest.mark.parametrize(("scenario", "code", "line"), [
    ("run fails", 1, r"run (C2|C1\+C2\+C3) (cosine|l1) seed 0 failed: FloatingPointError: the "
                     r"training loss became NaN in epoch 1"),
    ("too many GPUs", 2, r"error: no node of the cluster has 1 GPU for one run: the largest has 0 "
                         r"\(3 nodes\)"),
], ids=["a run that fails for its own reason", "more GPUs than any node has"])
def test_a_failure_stops_the_study_in_one_line(cluster, scenario, code, line):
    _, seen = cluster
    failed = seen[scenario]
    assert failed["code"] == code
    assert "Traceback" not in failed["stderr"]
    assert re.search(rf"^audioprune reproduce: {line}$", failed["stderr"], re.M), failed["stderr"][-2000:]
    assert failed["seconds"] < 120  # stopped, not left waiting


def test_without_ray_the_engine_names_its_extra(tmp_path):
    launcher = ("import sys; sys.modules['ray'] = None; from audioprune_lite.cli import main; "
                "sys.exit(main(sys.argv[1:]))")
    process = subprocess.run([sys.executable, "-c", launcher, "reproduce", "--engine", "ray",
                              "--out", str(tmp_path / "out")], capture_output=True, text=True,
                             env={**os.environ, "AUDIOPRUNE_HOME": str(tmp_path / "home")})
    assert process.returncode == 1
    assert process.stderr == ("audioprune reproduce: ray is not installed: "
                              "pip install 'audioprune_lite[scale]'\n")
