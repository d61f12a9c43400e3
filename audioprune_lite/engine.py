"""Where the study's training runs run: one after another here, or as Ray tasks on a cluster.

Every training run of :func:`audioprune_lite.reproduce.reproduce` (the baseline, each
fine-tuning run, each fewer-examples run) is described by a :class:`Run`: its cache entry,
a function that computes it from its inputs, and how the result is saved and read back.
An engine takes a list of runs and returns their results in order:

- :class:`LocalEngine` computes them one after another in this process, each through
  :func:`audioprune_lite.store.cached`, as the chapters do;
- :class:`RayEngine` reads what is cached, then sends every other run to a Ray cluster as
  one task, all in flight at once. The inputs (features, the trained baseline, the starting
  weights) travel through Ray's object store, each put once; a task returns its result,
  and only this process (the driver) writes the cache, through the same save functions,
  atomically. A task whose worker or node dies is run again (``max_retries``); a task
  that fails for its own reason stops the study with :class:`RunFailedError`.

With the same seeds and one thread per run on the CPU, both engines compute the same
weights, bit for bit, so the study's tables are equal.

Used by: :mod:`audioprune_lite.reproduce` and the command line's ``reproduce``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import carbon
from .extras import require
from .store import cached, read_entry, write_entry
from .train import torch_threads

__all__ = ["LocalEngine", "RayEngine", "ResourceError", "Run", "RunFailedError"]


class ResourceError(ValueError):
    """More CPUs or GPUs asked for one run than any node of the cluster has."""


class RunFailedError(RuntimeError):
    """A training run failed for its own reason (not a lost worker); the message names it."""


@dataclass
class Run:
    """One training run of the study.

    Attributes
    ----------
    label : str
        What it is, e.g. ``"C2 cosine seed 0"``.
    path : pathlib.Path
        Its cache entry.
    task : callable
        ``task(*inputs)`` computes the result; a module-level function (or a
        ``functools.partial`` of one) so that it can be sent to another process.
    inputs : tuple
        Its inputs; the same object given to several runs is sent once.
    save, load : callable
        ``save(result, path)`` and ``load(path)``, as :func:`audioprune_lite.store.cached`
        takes them.
    """

    label: str
    path: Path
    task: Callable
    inputs: tuple
    save: Callable[[Any, Path], Any]
    load: Callable[[Path], Any]

    def here(self) -> tuple[Any, bool]:
        """The result, read from the cache or computed in this process and cached: (result, was_cached)."""
        return cached(self.path, lambda: self.task(*self.inputs), save=self.save, load=self.load)


class LocalEngine:
    """Runs one after another in this process, each read from or written to the cache.

    Parameters
    ----------
    threads_per_run : int, optional
        PyTorch threads while the study runs (by default as set).
    progress : bool
    """

    def __init__(self, threads_per_run: int | None = None, progress: bool = True):
        self.threads_per_run = threads_per_run
        self.progress = progress

    def session(self):
        """A block inside which the study's keys are made and its runs run (sets the threads)."""
        return torch_threads(self.threads_per_run)

    def run(self, runs: list[Run], desc: str) -> list[tuple[Any, bool]]:
        """(result, was_cached) of every run, in order."""
        return [run.here() for run in tqdm(runs, desc=desc, unit="run", disable=not self.progress)]


def _in_task(task: Callable, label: str, threads: int, *inputs):
    """What a Ray task runs: ``task(*inputs)`` on ``threads`` threads, timed and measured where it runs."""
    import ray

    torch.set_num_threads(threads)
    start = time.perf_counter()
    with carbon.track(label, tracking_mode="process") as report:
        result = task(*inputs)
    return {"result": result, "node": ray.get_runtime_context().get_node_id(),
            "ip": ray.util.get_node_ip_address(), "seconds": time.perf_counter() - start,
            "energy_kwh": report.energy_kwh, "gpu_energy_kwh": report.gpu_energy_kwh}


def _first_line(error: BaseException) -> str:
    """The first line of an error's own message, without Ray's frames."""
    cause = getattr(error, "cause", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")


class RayEngine:
    """Runs as Ray tasks: each uncached run is one task, all in flight at once.

    Parameters
    ----------
    address : str, optional
        ``HOST:PORT`` of a running cluster's head (``ray start --head`` prints it); by
        default a local Ray instance is started.
    cpus_per_run : float
        CPUs Ray reserves for a task.
    gpus_per_run : float
        GPUs Ray reserves for a task; fractions such as 0.25 pack several small runs on one
        GPU. A task trains on the GPU Ray gives it, or on the CPU when it gives none.
    threads_per_run : int
        PyTorch threads inside a task (and on the driver while the study runs).
    max_retries : int
        How often a task whose worker or node died is run again.
    node_ip_address : str, optional
        The driver's own address on the cluster (Ray otherwise picks the machine's network
        address).
    progress : bool

    Raises
    ------
    MissingExtraError
        Ray is not installed (the ``[scale]`` extra).
    ResourceError
        No node of the cluster has ``cpus_per_run`` CPUs or ``gpus_per_run`` GPUs (the
        message says what the largest node has); found when the engine starts, so that no
        task waits for ever.
    """

    def __init__(self, address: str | None = None, *, cpus_per_run: float = 1,
                 gpus_per_run: float = 0, threads_per_run: int = 1, max_retries: int = 3,
                 node_ip_address: str | None = None, progress: bool = True):
        self.ray = require("ray", "scale")
        self.address, self.node_ip_address = address, node_ip_address
        self.cpus_per_run, self.gpus_per_run = cpus_per_run, gpus_per_run
        self.threads_per_run, self.max_retries = threads_per_run, max_retries
        self.progress = progress
        self.cluster_runs: list[dict] = []
        """One row per run computed: ``run``, ``node id``, ``ip``, ``seconds inside the task``
        and ``seconds seen by the driver`` (from when the run could start, submitted and its
        node free after the run before, to its result reaching the driver: the task's time
        plus Ray's overhead for one run, as far as the driver can tell)."""
        self.energy: list[dict] = []

    @contextlib.contextmanager
    def session(self):
        """Connect to (or start) Ray, check the resources asked for, set the driver's threads."""
        ray = self.ray
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, _node_ip_address=self.node_ip_address,
                     include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     configure_logging=True)
        try:
            self._check_resources()
            with torch_threads(self.threads_per_run):
                yield self
        finally:
            if started_here:
                ray.shutdown()

    def _check_resources(self) -> None:
        nodes = [node["Resources"] for node in self.ray.nodes() if node["Alive"]]
        for resource, asked in (("CPU", self.cpus_per_run), ("GPU", self.gpus_per_run)):
            largest = max((node.get(resource, 0) for node in nodes), default=0)
            if asked > largest:
                raise ResourceError(f"no node of the cluster has {asked:g} {resource}"
                                    f"{'' if asked == 1 else 's'} for one run: "
                                 f"the largest has {largest:g} ({len(nodes)} nodes)")

    def run(self, runs: list[Run], desc: str) -> list[tuple[Any, bool]]:
        """(result, was_cached) of every run, in order; the uncached ones computed as Ray tasks."""
        ray = self.ray
        results: list = [None] * len(runs)
        todo = []
        for index, run in enumerate(runs):
            found, result = read_entry(run.path, run.load)
            if found:
                results[index] = (result, True)
            else:
                todo.append(index)
        remote = ray.remote(_in_task).options(
            num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run,
            max_retries=self.max_retries, retry_exceptions=False)
        shared: dict[int, Any] = {}  # id of an input -> its object in the store, put once

        def put(value):
            if id(value) not in shared:
                shared[id(value)] = ray.put(value)
            return shared[id(value)]

        pending = {}
        for index in todo:
            run = runs[index]
            reference = remote.remote(run.task, run.label, self.threads_per_run,
                                      *[put(value) for value in run.inputs])
            pending[reference] = (index, time.perf_counter())
        free_since: dict[str, float] = {}  # node -> when the driver last got a result from it
        with tqdm(total=len(todo), desc=desc, unit="run", disable=not self.progress) as bar:
            for finished in range(1, len(todo) + 1):
                (reference,), _ = ray.wait(list(pending), num_returns=1)
                index, submitted = pending.pop(reference)
                run = runs[index]
                try:
                    done = ray.get(reference)
                except ray.exceptions.RayTaskError as error:
                    for other in pending:
                        ray.cancel(other)
                    raise RunFailedError(f"run {run.label} failed: {_first_line(error)}") from None
                now = time.perf_counter()
                # the run could start once it was submitted and its node had finished the one before
                seen_s = now - max(submitted, free_since.get(done["node"], submitted))
                free_since[done["node"]] = now
                self._keep(run, done, seen_s, desc)
                results[index] = (done["result"], False)
                bar.update()
                bar.write(f"run {finished}/{len(todo)} {run.label}: node {done['node'][:8]} "
                          f"({done['ip']})", file=sys.stderr)
        return results

    def _keep(self, run: Run, done: dict, seen_s: float, phase: str) -> None:
        """Write a finished run to the cache (here, on the driver) and record where it ran."""
        write_entry(done["result"], run.path, run.save)
        self.cluster_runs.append({"run": run.label, "node id": done["node"], "ip": done["ip"],
                                  "seconds inside the task": done["seconds"],
                                  "seconds seen by the driver": seen_s})
        self.energy.append({"phase": phase, "node": done["node"], "energy (kWh)": done["energy_kwh"],
                            "GPU energy (kWh)": done["gpu_energy_kwh"]})

    def energy_by_node(self) -> pd.DataFrame:
        """Energy of the runs computed, summed per phase and node, and how it was measured."""
        columns = ["phase", "node", "training runs", "energy (kWh)", "measured"]
        if not self.energy:
            return pd.DataFrame(columns=columns).set_index(["phase", "node"])
        table = pd.DataFrame(self.energy).groupby(["phase", "node"], sort=False).agg(
            **{"training runs": ("energy (kWh)", "size"), "energy (kWh)": ("energy (kWh)", "sum"),
               "GPU energy (kWh)": ("GPU energy (kWh)", "sum")})
        shared_gpu = 0 < self.gpus_per_run < 1 and bool(np.nansum(table["GPU energy (kWh)"]) > 0)
        table["measured"] = (
            "codecarbon per process where each run ran (tracking_mode=process), summed over the "
            "node's runs" + ("; the GPU part is the whole GPU's, shared by fractional runs: the "
                             "sum is an upper bound" if shared_gpu else ""))
        return table.drop(columns="GPU energy (kWh)")
