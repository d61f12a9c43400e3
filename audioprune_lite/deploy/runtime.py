"""Running ONNX files with ONNX Runtime, and timing every kind of variant alike.

:class:`OnnxModel` wraps an ONNX Runtime session (CPU) so that it scores like a PyTorch
network (``predict_proba``, and :func:`audioprune_lite.train.evaluate` accepts it).
:func:`latency_table` times batch-1 inference of PyTorch networks and ONNX files side by
side, interleaved so that a busy moment of a shared machine slows every variant alike.

Needs the ``[deploy]`` extra for ONNX files.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats
import torch
from torch import nn

from ..extras import require
from ..train import torch_threads
from .export import INPUT_NAME

__all__ = ["OnnxModel", "latency_table", "median_interval", "runner"]


class OnnxModel:
    """An ONNX file loaded into an ONNX Runtime session on the CPU.

    Used by: Chapter 9 and the command line's ``export``.

    Parameters
    ----------
    path : str or Path
        An ONNX file, e.g. from :func:`~audioprune_lite.deploy.export.export_onnx`.
    threads : int
        Threads of one operator (ONNX Runtime's ``intra_op_num_threads``).

    Attributes
    ----------
    path : pathlib.Path
    bytes : int
        The file's size.
    """

    def __init__(self, path, threads: int = 1):
        ort = require("onnxruntime", "deploy")
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no ONNX file at {self.path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        # idle threads sleep instead of spinning, which would hold a core that PyTorch,
        # timed next, or another session may need
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.path), options,
                                            providers=["CPUExecutionProvider"])
        self.bytes = self.path.stat().st_size

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Logits, shape (batch, classes), of float32 inputs (batch, 1, n_mels, frames)."""
        return self.session.run(None, {INPUT_NAME: np.asarray(x, dtype=np.float32)})[0]

    def predict_proba(self, X, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (softmax of the logits), shape (N, classes), like :func:`~audioprune_lite.train.predict_proba`."""
        logits = np.concatenate([self(X[start:start + batch_size])
                                 for start in range(0, len(X), batch_size)])
        return torch.softmax(torch.from_numpy(logits), dim=1).numpy()


def runner(model, threads: int = 1) -> Callable[[np.ndarray], np.ndarray]:
    """A function computing logits of a numpy batch, for a PyTorch network or an ONNX file.

    A PyTorch network runs in eval mode under ``torch.inference_mode`` with ``threads``
    (``torch.set_num_threads``, set on every call, which costs microseconds when it does
    not change); an ONNX file runs in an :class:`OnnxModel` with ``threads``.

    Used by: :func:`latency_table` and Chapter 9 (energy per inference).
    """
    if not isinstance(model, nn.Module):
        return OnnxModel(model, threads)
    model.eval()

    def run(x: np.ndarray) -> np.ndarray:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy()

    return run


def median_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free confidence interval of the median: two order statistics.

    The interval from the k-th smallest to the k-th largest value, with the largest k for
    which a binomial(n, 1/2) count falls below k with probability at most
    (1 - confidence) / 2. Timings are skewed (a pass can only be slowed down), so no
    normal approximation is used. For 30 values and 95 % it spans the 10th to 21st.

    Used by: :func:`latency_table`.
    """
    values = np.sort(np.asarray(values, dtype=float))
    n = len(values)
    k = int(stats.binom.ppf((1 - confidence) / 2, n, 0.5))  # P(count < k) <= alpha / 2
    if k < 1:
        return float(values[0]), float(values[-1])
    return float(values[k - 1]), float(values[n - k])


def latency_table(variants: dict, input_shape, *, threads: int = 1, repeats: int = 30,
                  warmup: int = 5, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Batch-1 latency of PyTorch networks and ONNX files, measured interleaved.

    Each variant runs ``warmup`` untimed passes; then ``repeats`` rounds each time one
    pass of every variant, so that the rounds of all variants share the machine's busy
    and quiet moments. The input is random (seeded), the same for all.

    Used by: Chapter 9, the command line's ``export`` and ``benchmarks/deploy.py``.

    Parameters
    ----------
    variants : dict of str to torch.nn.Module or path
        Name to a PyTorch network or an ONNX file.
    input_shape : tuple of int
        One input, batch dimension included (1).
    threads : int
        Threads for every variant (PyTorch's and ONNX Runtime's).
    repeats, warmup : int
        Timed and untimed passes per variant.
    confidence : float
        Of the median's interval (:func:`median_interval`).

    Returns
    -------
    pandas.DataFrame
        Indexed by variant: ``median_ms``, ``low_ms`` and ``high_ms`` (the median's
        interval), ``threads`` and ``repeats``.
    """
    if repeats < 2:
        raise ValueError(f"repeats must be at least 2 for an interval, got {repeats}")
    x = np.random.default_rng(seed).standard_normal(tuple(input_shape)).astype(np.float32)
    runs = {name: runner(model, threads) for name, model in variants.items()}
    times = {name: [] for name in runs}
    with torch_threads(threads):  # the runners set it for PyTorch; restored afterwards
        for run in runs.values():
            for _ in range(warmup):
                run(x)
        for _ in range(repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run(x)
                times[name].append(time.perf_counter() - start)
    rows = {}
    for name, values in times.items():
        low, high = median_interval(values, confidence)
        rows[name] = {"median_ms": 1000 * float(np.median(values)), "low_ms": 1000 * low,
                      "high_ms": 1000 * high, "threads": threads, "repeats": repeats}
    return pd.DataFrame.from_dict(rows, orient="index")
