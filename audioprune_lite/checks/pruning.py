"""Checks of the coding exercises of Chapters 3 and 4: which filters are redundant, and what
removing them takes and saves.

- :func:`prototype` -- Chapter 3's ``prototype_of(weight)``, against
  :func:`audioprune_lite.pruning.filter_prototypes`;
- :func:`greedy_pass` -- Chapter 3's ``kept_filters(distances)``, against
  :func:`audioprune_lite.pruning.greedy_cosine_selection` (the published rule);
- :func:`surgery` -- Chapter 4's ``remove_filters(conv, bn, next_conv, keep)``, against
  :func:`audioprune_lite.pruning.prune_model` on the chain convolution, batch norm, ReLU,
  next convolution;
- :func:`conv_macs` -- Chapter 4's ``macs_of(conv, height, width)``, against
  :func:`audioprune_lite.metrics.count_macs`.

Every case is built from fixed seeds and is small: each check runs in well under a second.
"""

from __future__ import annotations

import functools
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from ..metrics import count_macs
from ..pruning import cosine_distances, filter_prototypes, greedy_cosine_selection, prune_model
from .runner import Case, CheckResult, close, equal, run_cases

__all__ = ["conv_macs", "greedy_pass", "prototype", "surgery"]


# Chapter 3: the rank-1 prototype of a filter -----------------------------------------------

def _filter(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Standard normal weights of shape ``shape``, float32 as a layer stores them."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _close_prototypes(got, expected) -> str | None:
    """:func:`~audioprune_lite.checks.runner.close` to 1e-5: an SVD computed in float32
    agrees with the float64 reference to about 1e-6."""
    return close(got, expected, atol=1e-5)


def prototype(function) -> CheckResult:
    """Check Chapter 3's ``prototype_of`` against
    :func:`~audioprune_lite.pruning.filter_prototypes`.

    The reference is ``filter_prototypes`` of a layer holding the one filter. Cases: a
    random filter of 16 channels of 3 x 3 (more channels than kernel positions), then the
    same filter negated (its prototype must be negated too: an SVD alone fixes no sign, so
    one of the two fails without the sign rule); a 1-channel 7 x 7 filter as in ``conv1``
    (the prototype is the filter itself, flattened and scaled to length 1); 4 channels of
    a 3 x 5 kernel (fewer channels than kernel positions, and a kernel that is not square,
    so that positions must be laid out row by row); and an exactly rank-1 filter, one
    shape times a gain per channel, whose channel 0 has a negative gain while the mean
    gain is positive (the prototype is the shape as channel 0 sees it, negated; the mean
    over channels points the other way). No case has a repeated top singular value, nor
    a silent channel 0: there the prototype, or its sign, is not defined.

    Used by: Chapter 3.

    Parameters
    ----------
    function : callable
        The student's ``prototype_of(weight)``: ``weight`` a float32 array of shape
        ``(in_channels, kh, kw)``, one filter; returns its prototype, shape ``(kh * kw,)``,
        of length 1.

    Returns
    -------
    CheckResult
    """
    random_filter = _filter((16, 3, 3), seed=0)
    gains = np.array([-1.0, 0.5, 2.0, 1.5], np.float32)  # channel 0 negative, the mean positive
    rank_one = gains[:, None, None] * _filter((3, 3), seed=3)
    cases = [
        ("a random filter, 16 channels of 3 x 3", random_filter,
         "Is the filter laid out as a matrix with one column per input channel, and is the "
         "sign of your vector the one input channel 0 sees?"),
        ("the same filter, negated", -random_filter,
         "Negating a filter negates its prototype: an SVD may return u1 or -u1, so what fixes "
         "the sign?"),
        ("a 1-channel 7 x 7 filter, as in conv1", _filter((1, 7, 7), seed=1),
         "With one input channel the rank-1 matrix is the filter itself: what is its "
         "prototype, and how long is it?"),
        ("4 channels of a 3 x 5 kernel", _filter((4, 3, 5), seed=2),
         "Are the kernel positions laid out row by row, one column per channel, and is the "
         "prototype a left singular vector (one entry per kernel position)?"),
        ("an exactly rank-1 filter, channel 0 negative", rank_one,
         "Every channel is the same shape times a gain, and channel 0's gain is negative: "
         "which sign does the prototype take, and does any average over channels decide it?"),
    ]
    return run_cases("the rank-1 prototype", function, [
        Case(name, (weight,), filter_prototypes(weight[None])[0], hint=hint,
             compare=_close_prototypes) for name, weight, hint in cases])


# Chapter 3: the greedy pass ------------------------------------------------------------------

def _random_distances(n_filters: int, seed: int, decimals: int) -> np.ndarray:
    """The cosine distances between the prototypes of ``n_filters`` random 4 x 3 x 3 filters,
    rounded to ``decimals``."""
    weights = _filter((n_filters, 4, 3, 3), seed)
    return cosine_distances(filter_prototypes(weights), decimals=decimals)


def _same_filters(got, expected) -> str | None:
    """:func:`~audioprune_lite.checks.runner.equal`, saying which filters differ when
    ``got`` is a list of filter indices."""
    difference = equal(got, expected)
    if difference is None or np.ndim(got) != 1:
        return difference
    try:
        listed = [int(i) for i in got]
    except (TypeError, ValueError):
        return difference
    kept, expected_set = set(listed), {int(i) for i in expected}
    if len(kept) < len(listed):
        return "some filters are listed more than once"
    if kept == expected_set:
        return "the same filters, in another order (the indices must increase)"
    extra, missing = sorted(kept - expected_set), sorted(expected_set - kept)
    return ", and ".join([f"you keep filters {extra}, which the pass drops"] * bool(extra)
                         + [f"you drop filters {missing}, which it keeps"] * bool(missing))


def greedy_pass(function) -> CheckResult:
    """Check Chapter 3's ``kept_filters`` against
    :func:`~audioprune_lite.pruning.greedy_cosine_selection` (``rule="published"``).

    Cases: two filters (each is the other's nearest, at the same distance: the tie goes to
    the lower index, and the second pair is skipped); the chapter's worked example of four
    filters (filter 2 is kept, then marked, and stays kept); two exact duplicates at
    distance 0 (a filter is never its own nearest filter, even when a copy is as close);
    a filter equally close to two others (its nearest is the lower index, and it decides
    which filter is marked); three filters whose prototypes are 120 degrees apart, no pair
    close (every distance is 1.5, above the 1 of orthogonal filters: the nearest filter is
    still another filter, and the pairs come in filter order); 12 random filters; and 32
    random filters whose distances are rounded to one decimal, so that many pair distances
    tie (a sort that does not keep equal values in index order can give another kept set,
    on some machines).

    Used by: Chapter 3.

    Parameters
    ----------
    function : callable
        The student's ``kept_filters(distances)``: ``distances`` a symmetric float64 array
        of shape ``(d, d)``, ``d >= 2``, zero on the diagonal; returns the kept filter
        indices, integers in increasing order.

    Returns
    -------
    CheckResult
    """
    worked = np.array([[0, .1, .5, .6], [.1, 0, .2, .7], [.5, .2, 0, .3], [.6, .7, .3, 0]])
    twins = np.array([[0, 0, .4, .5], [0, 0, .4, .5], [.4, .4, 0, .2], [.5, .5, .2, 0]])
    two_nearest = np.array([[0, .1, .1, .8], [.1, 0, .5, .3], [.1, .5, 0, .6], [.8, .3, .6, 0]])
    angles = 2 * np.pi * np.arange(3) / 3
    spread = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # unit vectors 120 degrees apart
    cases = [
        ("two filters", np.array([[0, .4], [.4, 0]]),
         "Each filter is the other's nearest, at the same distance: which pair does the pass "
         "visit first, and what does it do at the second?"),
        ("the chapter's worked example", worked,
         "Walk the worked example pair by pair: is a pair whose filter is already marked "
         "skipped, and is a filter kept at one pair still kept when a later pair marks it?"),
        ("two exact duplicates", twins,
         "Filters 0 and 1 are copies, at distance 0 from each other as from themselves: "
         "which is each one's nearest filter, and which of the two does the pass keep?"),
        ("a filter equally close to two others", two_nearest,
         "Filter 0 is as close to filter 1 as to filter 2: which is its nearest filter, by "
         "the chapter's tie rule?"),
        ("three filters at 120 degrees, no close pair", cosine_distances(spread),
         "No two filters are close (every distance is 1.5): is each filter's nearest still "
         "another filter, and in which order are the pairs visited when all distances tie?"),
        ("12 random filters", _random_distances(12, seed=0, decimals=5),
         "Are the pairs visited closest first, one pair per filter, from the distance of "
         "each filter to its nearest other filter?"),
        ("32 random filters, distances rounded to one decimal",
         _random_distances(32, seed=1, decimals=1),
         "Many pairs are equally close here: does your sort keep equal distances in filter "
         "order, on every machine?"),
    ]
    return run_cases("the greedy pass", function, [
        Case(name, (distances,), greedy_cosine_selection(distances), hint=hint,
             compare=_same_filters)
        for name, distances, hint in cases])


# Chapter 4: the surgery of one layer ---------------------------------------------------------

def _leaves_random_state(check):
    """``check``, run without changing PyTorch's global random state.

    Building a layer draws its initial weights from that state, and so may the student's
    function; a chapter that seeds it before a later cell must get the same numbers
    whether or not the check ran in between.
    """
    @functools.wraps(check)
    def run(function) -> CheckResult:
        with torch.random.fork_rng(devices=[]):
            return check(function)
    return run


def _layers(c_in: int, filters: int, c_next: int, seed: int, *, bias: bool = True,
            next_kernel: int = 3, next_stride: int = 1,
            next_padding: int = 1) -> tuple[nn.Conv2d, nn.BatchNorm2d, nn.Conv2d]:
    """A convolution of ``filters`` 3 x 3 filters, its batch norm (the baseline's eps and
    momentum) and the next convolution, every weight, bias and running statistic drawn from
    ``seed`` (running variances between 0.5 and 1.5)."""
    conv = nn.Conv2d(c_in, filters, 3, padding=1, bias=bias)
    bn = nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01)
    next_conv = nn.Conv2d(filters, c_next, next_kernel, stride=next_stride, padding=next_padding)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in [*conv.parameters(), *bn.parameters(), bn.running_mean,
                       *next_conv.parameters()]:
            tensor.copy_(torch.randn(tensor.shape, generator=generator))
        bn.running_var.copy_(0.5 + torch.rand(filters, generator=generator))
    return conv, bn, next_conv


def _removed(conv: nn.Conv2d, bn: nn.BatchNorm2d, next_conv: nn.Conv2d, keep) -> tuple:
    """The three layers as :func:`~audioprune_lite.pruning.prune_model` leaves them when it
    keeps filters ``keep`` of ``conv`` in the chain ``conv, bn, ReLU, next_conv``."""
    chain = nn.Sequential(OrderedDict(conv=conv, bn=bn, relu=nn.ReLU(), next=next_conv))
    pruned = prune_model(chain, {"conv": keep})
    return pruned.conv, pruned.bn, pruned.next


_ROLES = ("the convolution", "the batch norm", "the next convolution")

_SETTINGS = {
    nn.Conv2d: ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                "groups"),
    nn.BatchNorm2d: ("num_features", "eps", "momentum", "affine", "track_running_stats"),
}
"""The attributes of each kind of layer that the surgery must set or keep."""


def _same_layers(got, expected) -> str | None:
    """None if ``got`` holds the three layers of ``expected``, of the same types, with the
    same weights, biases, running statistics and settings; else what differs first."""
    if got is None:
        return "your function returned None: is a `return` missing?"
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return "expected three layers (the convolution, its batch norm, the next convolution)"
    for role, layer, reference in zip(_ROLES, got, expected):
        if type(layer) is not type(reference):
            return f"{role} is a {type(layer).__name__}, not a {type(reference).__name__}"
        tensors = {**dict(reference.named_parameters()), **dict(reference.named_buffers())}
        tensors.pop("num_batches_tracked", None)  # a counter, not a per-channel statistic
        if role != "the batch norm" and (layer.bias is None) != (reference.bias is None):
            return f"{role} {'has no' if layer.bias is None else 'has a'} bias, unlike the original"
        for name, tensor in tensors.items():
            difference = close(getattr(layer, name), tensor.detach())
            if difference is not None:
                return f"{role}'s `{name}`: {difference}"
        for setting in _SETTINGS[type(reference)]:
            if getattr(layer, setting) != getattr(reference, setting):
                return (f"{role}'s `{setting}` is {getattr(layer, setting)!r}, not "
                        f"{getattr(reference, setting)!r}")
    return None


@_leaves_random_state
def surgery(function) -> CheckResult:
    """Check Chapter 4's ``remove_filters`` against :func:`~audioprune_lite.pruning.prune_model`.

    The reference is ``prune_model`` on the chain convolution, batch norm, ReLU, next
    convolution, keeping the filters ``keep`` of the first convolution; its three layers
    are compared, each weight, bias and running statistic and each setting. Cases (a
    convolution of 6 filters, its batch norm with the baseline's eps and momentum, a next
    convolution of 4 filters): keep three filters; keep every filter (nothing changes);
    keep a single filter; keep three filters listed out of order (the kept filters keep
    their original order, as in ``prune_model``); a convolution without a bias; and a next
    convolution with a 5 x 5 kernel, stride 2 and padding 2 (each new layer keeps the
    settings of the layer it replaces).

    Used by: Chapter 4.

    Parameters
    ----------
    function : callable
        The student's ``remove_filters(conv, bn, next_conv, keep)``: ``conv`` a
        ``torch.nn.Conv2d`` (groups 1), ``bn`` the ``torch.nn.BatchNorm2d`` after it,
        ``next_conv`` the ``torch.nn.Conv2d`` reading its channels, ``keep`` a list of the
        distinct filter indices of ``conv`` to keep, in any order; returns the three new
        layers ``(conv, bn, next_conv)``.

    Returns
    -------
    CheckResult
    """
    settings = "Does each new layer keep every setting of the layer it replaces?"
    cases = [
        ("keep 3 of 6 filters", _layers(2, 6, 4, seed=0), [0, 2, 5],
         "Which tensors hold one entry per filter: in the convolution, in the batch norm "
         "(all four of them) and in the next convolution, along which dimension?"),
        ("keep every filter", _layers(2, 6, 4, seed=1), list(range(6)),
         "Keeping every filter changes nothing: do the layers come back as they were?"),
        ("keep one filter", _layers(2, 6, 4, seed=2), [3],
         "With one filter kept, does every tensor keep its dimensions (one channel, not "
         "none)?"),
        ("keep filters listed out of order", _layers(2, 6, 4, seed=3), [4, 1, 3],
         "`keep` may come in any order: in which order do the kept filters stay?"),
        ("a convolution without a bias", _layers(2, 6, 4, seed=4, bias=False), [1, 2, 4],
         "Not every convolution has a bias (`conv.bias` is None): " + settings),
        ("a next convolution of 5 x 5, stride 2, padding 2",
         _layers(2, 6, 4, seed=5, next_kernel=5, next_stride=2, next_padding=2), [0, 3, 4, 5],
         settings + " Its kernel, stride, padding and the batch norm's eps and momentum?"),
    ]
    return run_cases("removing filters", function, [
        Case(name, (*layers, keep), _removed(*layers, keep), hint=hint, compare=_same_layers)
        for name, layers, keep, hint in cases])


# Chapter 4: the multiply-accumulates of one convolution --------------------------------------

@_leaves_random_state
def conv_macs(function) -> CheckResult:
    """Check Chapter 4's ``macs_of`` against :func:`~audioprune_lite.metrics.count_macs`.

    The reference is ``count_macs`` of the convolution alone on one input of
    ``(in_channels, height, width)``: one MAC per weight use, bias additions excluded.
    Cases: ``conv2`` of the baseline (16 to 16 channels, 7 x 7, padding 3) on a 1-s clip of
    40 x 50 (the output has the input's size, so every factor but the size shows); a 3 x 3
    kernel without padding (the output is smaller than the input); stride 2 on odd sizes
    (the output size is rounded down); a 1 x 1 kernel (every input channel still counts);
    and a 5 x 3 kernel with a stride, padding and dilation that differ between the axes
    (each read per axis).

    Used by: Chapter 4.

    Parameters
    ----------
    function : callable
        The student's ``macs_of(conv, height, width)``: ``conv`` a ``torch.nn.Conv2d``
        (groups 1, padding given as numbers), ``height`` and ``width`` the input's size in
        rows (mel bands) and columns (frames); returns the multiply-accumulates of one
        forward pass of one input, an int.

    Returns
    -------
    CheckResult
    """
    cases = [
        ("conv2 of the baseline on a 1-s clip", nn.Conv2d(16, 16, 7, padding=3), 40, 50,
         "Each output value sums over how many weights: a kernel for each of how many input "
         "channels? (Bias additions are not counted.)"),
        ("a 3 x 3 kernel without padding", nn.Conv2d(4, 8, 3), 10, 12,
         "Without padding the kernel may not hang over the edge: how large is the output "
         "map?"),
        ("stride 2 on odd sizes", nn.Conv2d(3, 6, 3, stride=2, padding=1), 41, 11,
         "With a stride of 2, at how many positions along 41 rows does the kernel fit?"),
        ("a 1 x 1 kernel", nn.Conv2d(32, 10, 1), 6, 9,
         "A 1 x 1 kernel still combines every input channel: how many multiplications per "
         "output value?"),
        ("a dilated 5 x 3 kernel, stride and padding per axis",
         nn.Conv2d(2, 4, (5, 3), stride=(1, 2), padding=(2, 0), dilation=(2, 1)), 20, 15,
         "Is every setting read per axis (rows from the first entry, columns from the "
         "second), and how far does a dilated kernel reach?"),
    ]
    return run_cases("the MACs of a convolution", function, [
        Case(name, (conv, height, width),
             count_macs(nn.Sequential(conv), (1, conv.in_channels, height, width)), hint=hint,
             compare=equal)
        for name, conv, height, width, hint in cases])
