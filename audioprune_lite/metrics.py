"""What a network costs: parameters, multiply-accumulate operations, bytes and latency.

Chapter 2 measures the baseline with these functions; chapter 4 compares pruned
networks with it, and ``audioprune reproduce`` (chapter 7) reports the same counts.
``input_shape`` always includes the batch dimension, e.g. ``(1, 1, 40, 500)`` for one
10-s clip.
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
import pandas as pd
from scipy import stats
import torch
from torch import nn

from .train import torch_threads

__all__ = ["count_macs", "count_params", "count_params_keras", "layer_summary", "measure_latency",
           "model_size_bytes", "seed_interval"]

def seed_interval(values, confidence: float = 0.95) -> float:
    """Half-width of the t-interval of the mean of ``values`` (NaN for fewer than two).

    ``t(1 - (1 - confidence) / 2, n - 1) x s / sqrt(n)``, with ``s`` the sample standard
    deviation of the ``n`` values (one per seed). With three seeds the t quantile is 4.30,
    so the interval is wide: three seeds resolve differences of several points. It says
    nothing about the evaluation clips, which every run shares.

    Used by: Chapters 5 and 7, :func:`audioprune_lite.reproduce.summarise_pruning`,
    :func:`audioprune_lite.fewer_examples.seed_summary` and the plots of intervals.

    Parameters
    ----------
    values : array-like of float
        One value per seed.
    confidence : float

    Returns
    -------
    float
        In the units of ``values``.
    """
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("nan")
    quantile = stats.t.ppf(1 - (1 - confidence) / 2, len(values) - 1)
    return float(quantile * values.std(ddof=1) / np.sqrt(len(values)))


_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def count_params(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters (weights and biases).

    Used by: Chapters 2, 3 and 5, and :func:`audioprune_lite.reproduce.pruning_study`.

    Parameters
    ----------
    model : torch.nn.Module
    trainable_only : bool
        Count only parameters that training updates. Buffers such as batch
        normalisation's running mean and variance are never counted here (Keras counts
        them as "non-trainable parameters": :func:`count_params_keras` does too).

    Returns
    -------
    int
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_params_keras(model: nn.Module) -> int:
    """Number of parameters as Keras counts them: the count the papers and the DCASE baseline give.

    Keras' ``model.count_params()`` counts every weight of every layer, trainable or not:
    the weights and biases, and for batch normalisation all four vectors per channel,
    the scale and shift (PyTorch's ``weight`` and ``bias`` parameters) and the running
    mean and variance (PyTorch's ``running_mean`` and ``running_var`` buffers, which
    :func:`count_params` leaves out). Other buffers, such as ``num_batches_tracked`` or
    :class:`~audioprune_lite.models.DCASE21Baseline`'s stored input statistics, are not
    layer weights in Keras and are not counted. The DCASE 2021 baseline has 46,118
    parameters in PyTorch's count and 46,246 in this one.

    Used by: Chapter 4 (pruned networks beside the paper's table) and
    :func:`audioprune_lite.reproduce.pruning_study`.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    int
    """
    running = sum(norm.running_mean.numel() + norm.running_var.numel()
                  for norm in model.modules()
                  if isinstance(norm, _BATCH_NORMS) and norm.running_mean is not None)
    return count_params(model, trainable_only=False) + running


def _layer_macs(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-accumulates of one Conv2d or Linear call: one per weight use, bias adds excluded."""
    if isinstance(module, nn.Conv2d):
        per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        return output.numel() * per_output
    return output.numel() * module.in_features


def layer_summary(model: nn.Module, input_shape) -> pd.DataFrame:
    """One row per layer: its output shape, parameters and multiply-accumulates (MACs).

    A forward pass of zeros of ``input_shape`` is traced with hooks (in eval mode; the
    model's mode is restored afterwards). MACs are counted for convolutions and dense
    layers only: a convolution costs ``output elements x in_channels x kh x kw``, a dense
    layer ``output elements x in_features``; bias additions, batch normalisation, ReLU and
    pooling are not counted (together well under 1 % for the networks here).

    Used by: Chapter 2 (the architecture, layer by layer) and Chapter 4 (before and after
    pruning).

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : tuple of int
        Including the batch dimension.

    Returns
    -------
    pandas.DataFrame
        Columns ``layer`` (name in ``named_modules``), ``type``, ``output_shape``
        (without the batch dimension), ``params`` and ``macs`` (for the whole batch).
    """
    rows = []
    hooks = []
    for name, module in model.named_modules():
        if name and not list(module.children()):
            def record(module, inputs, output, name=name):
                macs = _layer_macs(module, output) if isinstance(module, (nn.Conv2d, nn.Linear)) else 0
                rows.append({
                    "layer": name, "type": type(module).__name__,
                    "output_shape": tuple(output.shape[1:]),
                    "params": sum(p.numel() for p in module.parameters()), "macs": macs,
                })
            hooks.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else "cpu"
        with torch.no_grad():
            model(torch.zeros(tuple(input_shape), device=device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return pd.DataFrame(rows, columns=["layer", "type", "output_shape", "params", "macs"])


def count_macs(model: nn.Module, input_shape) -> int:
    """Multiply-accumulate operations of convolution and dense layers for one forward pass.

    The convention of :func:`layer_summary` (bias additions excluded), which agrees within
    2 % with torchinfo's "mult-adds", the count the DCASE challenge asks for: 286.6 M for
    the baseline on one 40 x 500 input.

    Used by: Chapters 2 and 4, and :func:`audioprune_lite.reproduce.pruning_study`.

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : tuple of int
        Including the batch dimension; ``(1, 1, 40, 500)`` counts one 10-s clip.

    Returns
    -------
    int
    """
    return int(layer_summary(model, input_shape)["macs"].sum())


def model_size_bytes(model: nn.Module) -> int:
    """Size of the model's serialized ``state_dict`` (as ``torch.save`` writes it), in bytes.

    Used by: Chapters 2 and 4.
    """
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def measure_latency(model: nn.Module, input_shape, *, repeats: int = 30, threads: int | None = None,
                    warmup: int = 3) -> dict:
    """Wall-clock time of one forward pass in eval mode: median and spread over repeats.

    Used by: Chapter 2 (the baseline's cost) and Chapter 4 (pruned versus masked).

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : tuple of int
        Including the batch dimension.
    repeats : int
        Timed forward passes, after ``warmup`` untimed ones.
    threads : int, optional
        CPU threads for PyTorch during the measurement (restored afterwards); by default
        the current setting.
    warmup : int
        Untimed passes first (memory allocation, caches).

    Returns
    -------
    dict
        ``median_s``, ``p10_s`` and ``p90_s`` (seconds), ``repeats``, ``threads``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    measured_with = threads or torch.get_num_threads()
    was_training = model.training
    model.eval()
    parameter = next(model.parameters(), None)
    x = torch.randn(tuple(input_shape), device=parameter.device if parameter is not None else "cpu")
    times = []
    try:
        with torch_threads(threads), torch.inference_mode():
            for index in range(warmup + repeats):
                start = time.perf_counter()
                model(x)
                if index >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    deciles = statistics.quantiles(times, n=10) if len(times) > 1 else [times[0]] * 9
    return {"median_s": statistics.median(times), "p10_s": deciles[0], "p90_s": deciles[-1],
            "repeats": repeats, "threads": measured_with}
