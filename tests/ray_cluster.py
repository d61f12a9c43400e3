"""The cluster side of ``test_ray.py``: a Ray cluster of loopback nodes, and the study run on it.

Run by ``test_ray.py`` inside a network namespace that holds only loopback, so that no
traffic leaves the machine: ``python tests/ray_cluster.py DATA WORK``. It starts a head
(127.0.0.1, no CPUs) and two one-CPU worker nodes (127.0.0.2, 127.0.0.3) with
``ray.cluster_utils.Cluster``, runs ``audioprune reproduce --engine ray`` as a separate
driver process in four ways, and writes what it saw to ``WORK/scenarios.json``:

- ``node dies``: when both workers run a task, one worker node is killed and a new one
  (127.0.0.4) added;
- ``driver dies``: the driver is killed (SIGKILL) once some but not all runs are cached,
  then run again;
- ``run fails``: every pruned fine-tuning run raises (the training function is replaced in
  that driver, and Ray sends the replacement to the workers);
- ``too many GPUs``: ``--gpus-per-run 1`` on this CPU-only cluster.

The workers' ``AUDIOPRUNE_HOME`` is ``WORK/worker-home``, which must stay empty.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STUDY = ["--epochs", "1", "--finetune-epochs", "1", "--seeds", "0", "--layer-sets", "C2,C1+C2+C3",
         "--fractions", "0.5,1"]
"""The small study of the tests: two layer sets, one seed, one epoch, a two-point sweep."""


def reproduce_command(data: Path, out: Path, address: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "audioprune_lite", "reproduce", "--data", str(data), *STUDY,
            "--engine", "ray", "--address", address, "--node-ip-address", "127.0.0.1",
            "--out", str(out), *extra]


def driver(command: list[str], home: Path) -> subprocess.Popen:
    """The study's driver, in its own process with its own cache."""
    return subprocess.Popen(command, env={**os.environ, "AUDIOPRUNE_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=600)
    return {"code": process.returncode, "stdout": stdout, "stderr": stderr}


def cache_entries(home: Path) -> int:
    """Runs cached so far: trained models and fewer-examples rows (complete entries only)."""
    return len(list(home.glob("models/*.pt"))) + len(list(home.glob("fewer-examples/*.json")))


def node_dies(cluster, data: Path, work: Path) -> dict:
    import ray

    process = driver(reproduce_command(data, work / "out-node", cluster.address), work / "home-node")
    killed = False
    while process.poll() is None and not killed:
        if ray.available_resources().get("CPU", 0) == 0 and cache_entries(work / "home-node") >= 1:
            victim = [node for node in cluster.worker_nodes][0]
            cluster.remove_node(victim, allow_graceful=False)
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.4")
            killed = True
        time.sleep(0.01)
    return {**finished(process), "killed": killed}


def driver_dies(cluster, data: Path, work: Path) -> dict:
    home, command = work / "home-driver", reproduce_command(data, work / "out-driver", cluster.address)
    process = driver(command, home)
    while process.poll() is None and cache_entries(home) < 3:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    cached_at_kill = cache_entries(home)
    return {**finished(driver(command, home)), "cached_at_kill": cached_at_kill}


def run_fails(cluster, data: Path, work: Path) -> dict:
    command = [sys.executable, __file__, "--failing-driver",
               *reproduce_command(data, work / "out-fail", cluster.address)[1:]]
    return finished(driver(command, work / "home-fail"))


def too_many_gpus(cluster, data: Path, work: Path) -> dict:
    command = reproduce_command(data, work / "out-gpu", cluster.address, "--gpus-per-run", "1")
    return finished(driver(command, work / "home-gpu"))


def failing_driver(argv: list[str]) -> int:
    """``audioprune`` whose pruned fine-tuning runs raise, as a run with a NaN loss would."""
    from audioprune_lite import experiments
    from audioprune_lite.cli import main

    train = experiments._fit

    def diverging(model, *args, **kwargs):
        if model.config["channels"] != (16, 16, 32):
            raise FloatingPointError("the training loss became NaN in epoch 1")
        return train(model, *args, **kwargs)

    experiments._fit = diverging  # sent to the workers with each task
    return main(argv[3:])  # after "--failing-driver -m audioprune_lite"


def main(data: Path, work: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    (work / "worker-home").mkdir(parents=True, exist_ok=True)
    os.environ["AUDIOPRUNE_HOME"] = str(work / "worker-home")  # what the nodes' workers inherit
    started = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": "127.0.0.1", "temp_dir": f"/tmp/rt{os.getpid()}"})
    for address in ("127.0.0.2", "127.0.0.3"):
        cluster.add_node(num_cpus=1, node_ip_address=address)
    ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False,
             logging_level="ERROR")
    results = {"cluster_s": time.perf_counter() - started}
    try:
        for name, scenario in (("node dies", node_dies), ("driver dies", driver_dies),
                               ("run fails", run_fails), ("too many GPUs", too_many_gpus)):
            started = time.perf_counter()
            results[name] = {**scenario(cluster, data, work), "seconds": time.perf_counter() - started}
        results["node addresses"] = sorted({node["NodeManagerAddress"] for node in ray.nodes()})
    finally:
        ray.shutdown()
        cluster.shutdown()
    (work / "scenarios.json").write_text(json.dumps(results))


if __name__ == "__main__":
    if sys.argv[1] == "--failing-driver":
        sys.exit(failing_driver(sys.argv[1:]))
    main(Path(sys.argv[1]), Path(sys.argv[2]))
