"""Print how long the study's fine-tuning phase takes on two Ray worker nodes against one process.

The phase alone (``pruning_study``: the unpruned network and C2 and C1+C2+C3 by cosine and
l1, seeds 0 and 1: ten fine-tuning runs, two epochs each, on the book's offline scenes),
once with the local engine on one thread and once on a cluster of a head with no CPUs and
two one-CPU worker nodes that are already warm (their worker processes started and
PyTorch imported). Prints both wall times, their ratio, and Ray's overhead per run: the
median over runs of the seconds the driver waited for a run minus the seconds inside its
task. The baseline is trained first (not timed) and each engine starts from a cache
holding only it.

The cluster's nodes have loopback addresses (127.0.0.1 to 127.0.0.3), and the script runs
itself inside a network namespace that holds only loopback (``unshare -n``, or ``-rn``
without root), so no traffic leaves the machine. On a 2-core machine Ray's own processes
share the cores with the runs, so two workers cannot make it twice as fast.

Run: ``python benchmarks/cluster.py``.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

SEEDS, EPOCHS, LAYER_SETS = (0, 1), 2, ("C2", "C1+C2+C3")


def in_namespace() -> int:
    """Run this script again inside a loopback-only network namespace; its exit code."""
    for unshare in (["unshare", "-n"], ["unshare", "-rn"]):
        command = [*unshare, "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable,
                   __file__, "--inside"]
        if shutil.which("unshare") and subprocess.run([*unshare, "true"]).returncode == 0:
            return subprocess.run(command).returncode
    print("cannot make a network namespace (unshare -n or -rn): not measured", file=sys.stderr)
    return 1


def fine_tuning_phase(engine, baseline, features) -> float:
    """Seconds of :func:`audioprune_lite.reproduce.pruning_study` with ``engine``."""
    from audioprune_lite.reproduce import LAYER_SETS as ALL, pruning_study

    with engine.session():
        start = time.perf_counter()
        pruning_study(baseline, features, seeds=SEEDS, epochs=EPOCHS, progress=False,
                      layer_sets={name: ALL[name] for name in LAYER_SETS}, engine=engine)
        return time.perf_counter() - start


def forget_fine_tuning(home: Path) -> None:
    """Remove every cached model but the baseline."""
    for entry in (home / "models").glob("*"):
        if not entry.name.startswith("dcase21-baseline-"):
            entry.unlink()


def warm_up(ray) -> None:
    """Start a worker process on each worker node and import PyTorch and the package there."""
    @ray.remote(num_cpus=1)
    def ready() -> str:
        import audioprune_lite.experiments  # noqa: F401  (imports torch)

        time.sleep(1)
        return ray.get_runtime_context().get_node_id()

    assert len(set(ray.get([ready.remote() for _ in range(4)]))) == 2


def measure() -> None:
    import ray
    from ray.cluster_utils import Cluster
    import torch

    from audioprune_lite.engine import LocalEngine, RayEngine
    from audioprune_lite.experiments import default_features, trained_baseline

    home = Path(tempfile.mkdtemp(prefix="audioprune-bench-"))
    os.environ["AUDIOPRUNE_HOME"] = str(home)
    features = default_features(progress=False)
    baseline, _, _ = trained_baseline(features, progress=False)
    local_s = fine_tuning_phase(LocalEngine(threads_per_run=1, progress=False), baseline, features)
    forget_fine_tuning(home)

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": "127.0.0.1", "temp_dir": f"/tmp/rb{os.getpid()}"})
    for address in ("127.0.0.2", "127.0.0.3"):
        cluster.add_node(num_cpus=1, node_ip_address=address)
    try:
        ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False,
                 logging_level="ERROR")
        warm_up(ray)
        engine = RayEngine(cluster.address, threads_per_run=1, progress=False)
        ray_s = fine_tuning_phase(engine, baseline, features)
        addresses = sorted({node["NodeManagerAddress"] for node in ray.nodes()})
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(home, ignore_errors=True)
    runs = pd.DataFrame(engine.cluster_runs)
    overhead = (runs["seconds seen by the driver"] - runs["seconds inside the task"]).median()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M %Z')}; "
          f"torch {torch.__version__}, ray {ray.__version__}; node addresses {addresses}")
    print(f"fine-tuning phase: {len(runs)} runs of {EPOCHS} epochs on "
          f"{len(features.y_train)} training clips")
    print(f"  local engine, 1 thread:        {local_s:6.1f} s")
    print(f"  Ray, 2 one-CPU worker nodes:   {ray_s:6.1f} s  (local / Ray: {local_s / ray_s:.2f}x)")
    print(f"  Ray's overhead per run (median of driver - task seconds): {1000 * overhead:.0f} ms")


if __name__ == "__main__":
    if "--inside" in sys.argv:
        measure()
    else:
        sys.exit(in_namespace())
