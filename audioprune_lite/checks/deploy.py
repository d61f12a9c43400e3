"""Checks of the coding exercises of Chapter 9: the challenge's count of a network's size, and
the interval of a median latency.

- :func:`challenge_bytes` -- Chapter 9's ``challenge_bytes(model, bytes_per_parameter,
  count_zeros)``, against the bytes of :func:`audioprune_lite.deploy.complexity` (the 2021
  rule counts non-zero parameters, the 2022 rule every parameter);
- :func:`median_interval` -- Chapter 9's ``median_interval(times, confidence)``, against
  :func:`audioprune_lite.deploy.median_interval`.

Every case is built from fixed seeds and is small: each check runs in well under a second.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import deploy
from ..models import DCASE21Baseline
from ..pruning import mask_filters, prune_model
from .pruning import _leaves_random_state
from .runner import Case, CheckResult, equal, run_cases

__all__ = ["challenge_bytes", "median_interval"]


# The challenge's count of a network's size -------------------------------------------------

BASELINE_INPUT = (1, 1, 40, 5)
"""The smallest input :class:`~audioprune_lite.models.DCASE21Baseline` takes (40 mel bands,
5 frames): :func:`~audioprune_lite.deploy.complexity` counts MACs on it, which the check
does not compare."""

PLAN = {"conv2": [0, 2, 3, 5, 8, 9, 11, 12, 14, 15], "conv3": list(range(0, 32, 4))}
"""The filters kept in the masked and the pruned baseline: 10 of ``conv2``'s 16 and 8 of
``conv3``'s 32."""

_DTYPES = {size: dtype for dtype, size in deploy.DTYPE_BYTES.items()}
"""The type stored at each number of bytes per parameter, e.g. 2: ``"float16"``."""


def _as_trained(model: nn.Module, seed: int) -> nn.Module:
    """``model`` with every weight, bias and batch-norm running mean drawn from a standard
    normal of ``seed``, and every running variance from 0.5 to 1.5: no value is zero, as
    after training. Changed in place and returned."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            tensors = list(module.parameters(recurse=False))
            if isinstance(module, nn.BatchNorm2d):
                tensors.append(module.running_mean)
                variances = module.running_var
                variances.copy_(0.5 + torch.rand(variances.shape, generator=generator))
            for tensor in tensors:
                tensor.copy_(torch.randn(tensor.shape, generator=generator))
    return model


def _trained_baseline(seed: int) -> DCASE21Baseline:
    """A :class:`~audioprune_lite.models.DCASE21Baseline` with every value drawn from
    ``seed`` (:func:`_as_trained`), input statistics included."""
    model = _as_trained(DCASE21Baseline(), seed)
    model.set_input_statistics(torch.randn(4, *BASELINE_INPUT[1:],
                                           generator=torch.Generator().manual_seed(seed)))
    return model


@_leaves_random_state
def challenge_bytes(function) -> CheckResult:
    """Check Chapter 9's ``challenge_bytes`` against :func:`~audioprune_lite.deploy.complexity`.

    The reference is ``complexity``'s ``bytes`` by the 2022 rule (every parameter) when
    ``count_zeros`` is True and by the 2021 rule (non-zero parameters) when it is False, at
    the type of ``bytes_per_parameter`` bytes. Unless said otherwise, no value of a case's
    network is zero, as after training. Cases: a convolution, a batch norm and a dense
    layer at float32 (the batch norm's running mean and variance count, its
    ``num_batches_tracked`` does not); the DCASE 2021 baseline at float16, every parameter
    counted (its stored input statistics are buffers, not layer weights); the baseline
    as built, before training, zeros free (a fresh batch norm's shifts and running means
    are zeros); the baseline with filters of ``conv2`` and ``conv3`` masked, zeros free
    (the masked network computes with ``weight``, not ``weight_orig``); the same masked
    network at int8, every parameter counted (each parameter once, though a masked layer
    stores an original and a mask); and the same filters removed by surgery, at int8, zeros
    free.

    Used by: Chapter 9.

    Parameters
    ----------
    function : callable
        The student's ``challenge_bytes(model, bytes_per_parameter, count_zeros)``:
        ``model`` a ``torch.nn.Module`` (pruned, masked with ``torch.nn.utils.prune`` or
        not), ``bytes_per_parameter`` 4, 2 or 1 (float32, float16, int8), ``count_zeros``
        a bool (True: every parameter, False: the non-zero ones); returns the size in
        bytes, an int.

    Returns
    -------
    CheckResult
    """
    torch.manual_seed(9)  # the initial weights of the baseline as built
    chain = _as_trained(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                                      nn.Flatten(), nn.Linear(4 * 4 * 4, 3)), seed=1)
    trained = _trained_baseline(seed=2)
    masked = mask_filters(trained, PLAN)
    cases = [
        ("a small network with a batch norm at float32", chain, (1, 1, 6, 6), 4, True,
         "Keras counts a batch norm's running mean and running variance as parameters, and "
         "no other buffer: which of the batch norm's tensors does your count include?"),
        ("the baseline at float16 counting every parameter", trained, BASELINE_INPUT, 2, True,
         "The baseline stores its input's mean and standard deviation as buffers: are they "
         "weights of a layer?"),
        ("the untrained baseline at float16 counting non-zeros", DCASE21Baseline(),
         BASELINE_INPUT, 2, False,
         "A fresh batch norm starts with shifts and running means of 0: with `count_zeros` "
         "False, do your zeros still count?"),
        ("the masked baseline at float16 counting non-zeros", masked, BASELINE_INPUT, 2, False,
         "`torch.nn.utils.prune` keeps the original weights as `weight_orig`: which tensor "
         "does the masked network compute with?"),
        ("the masked baseline at int8 counting every parameter", masked, BASELINE_INPUT, 1, True,
         "A masked layer stores `weight_orig` and `weight_mask` besides `weight`: is each "
         "parameter counted once?"),
        ("the pruned baseline at int8 counting non-zeros", prune_model(trained, PLAN),
         BASELINE_INPUT, 1, False,
         "Is `bytes_per_parameter` used as given?"),
    ]
    return run_cases("the challenge's count of bytes", function, [
        Case(name, (model, size, count_zeros),
             deploy.complexity(model, shape, "dcase2022" if count_zeros else "dcase2021",
                               _DTYPES[size])["bytes"], hint=hint, compare=equal)
        for name, model, shape, size, count_zeros, hint in cases])


# The interval of a median latency ----------------------------------------------------------

def median_interval(function) -> CheckResult:
    """Check Chapter 9's ``median_interval`` against
    :func:`audioprune_lite.deploy.median_interval`.

    The timings are skewed, as latencies are (a pass can only be slowed down): log-normal
    draws of seed 9, in ms. Cases: 30 timings already sorted, at 95 % (the ends are the
    10th smallest and the 10th largest value: positions counted from 0 show); the same 30
    timings in the order they were measured (the values must be sorted first); 100
    timings in a list, at 95 %; the 30 timings at 99 % and the 100 at 90 % (``confidence``
    is used); five timings and two timings, at 95 % (no k of at least 1 exists: the
    smallest and the largest value); and 30 timings rounded to 0.1 ms, with many ties
    (every value counts, repeated or not).

    Used by: Chapter 9.

    Parameters
    ----------
    function : callable
        The student's ``median_interval(times, confidence)``: ``times`` n >= 1 timings in
        any order (an array or a list, shape ``(n,)``), ``confidence`` a fraction; returns
        ``(low, high)``, two floats in the unit of ``times``.

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(9)
    thirty = np.round(2.0 * rng.lognormal(0.0, 0.3, 30), 4)
    hundred = [float(v) for v in np.round(2.0 * rng.lognormal(0.0, 0.3, 100), 4)]
    cases = [Case(name, (times, confidence), deploy.median_interval(times, confidence), hint=hint)
             for name, times, confidence, hint in [
        ("30 sorted timings at 95 %", np.sort(thirty), 0.95,
         "The ends are two of the timings themselves, the k-th smallest and the k-th "
         "largest: at which positions of the sorted values, counting from 0?"),
        ("30 timings as measured at 95 %", thirty, 0.95,
         "The k-th smallest value is found in which order of the values?"),
        ("100 timings in a list at 95 %", hundred, 0.95,
         "Does your function take a list as well as an array?"),
        ("30 timings at 99 %", thirty, 0.99,
         "A higher confidence needs a wider interval: is `confidence` used?"),
        ("100 timings at 90 %", hundred, 0.90,
         "Is `confidence` used, with (1 - confidence) / 2 in each tail?"),
        ("five timings at 95 %", thirty[:5], 0.95,
         "With five values k is below 1: what does the docstring ask for then?"),
        ("two timings at 95 %", thirty[:2], 0.95,
         "With two values k is below 1: what does the docstring ask for then?"),
        ("30 timings with ties at 95 %", np.round(thirty, 1), 0.95,
         "Equal timings are separate measurements: does every one of them keep its place "
         "among the sorted values?"),
    ]]
    return run_cases("the interval of a median", function, cases)
