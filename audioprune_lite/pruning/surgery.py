"""The surgery: a new, physically smaller network without the pruned filters.

:func:`prune_model` removes filters from a flat chain of layers (``nn.Sequential``, such as
:class:`~audioprune_lite.models.DCASE21Baseline` and
:class:`~audioprune_lite.models.VGGishLike`): the convolution's weight and bias, the
batch normalisation after it, and the inputs of the next layer that read the removed
channels. For networks with branches or residual connections, Torch-Pruning does the
surgery with :class:`audioprune_lite.pruning.CosineSimilarityImportance`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from .selection import filters_to_keep

__all__ = ["prune_model"]

# Layers that act on each channel separately: the surgery passes through them unchanged.
_CHANNELWISE = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d,
                nn.Dropout, nn.Dropout2d, nn.Identity)


def _kept_filters(name: str, conv: nn.Conv2d, spec) -> np.ndarray:
    """The sorted filter indices a plan entry keeps, checked against the layer."""
    d = conv.out_channels
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], str):
        ratio, method = spec
        try:
            return filters_to_keep(conv.weight, method, ratio=ratio)
        except ValueError as error:
            raise ValueError(f"plan for {name!r}: {error}") from None
    keep = np.asarray(spec.cpu() if isinstance(spec, torch.Tensor) else spec)
    if keep.ndim != 1 or keep.size == 0:
        raise ValueError(f"plan for {name!r}: the filters to keep must be a non-empty list of "
                         f"indices, got {spec!r}")
    if keep.dtype.kind not in "iu":
        raise ValueError(f"plan for {name!r}: filter indices must be integers, got {spec!r}")
    if keep.min() < 0 or keep.max() >= d:
        raise ValueError(f"plan for {name!r}: filter index out of range; {name!r} has {d} filters "
                         f"(0 to {d - 1}), got {keep.tolist()}")
    if len(np.unique(keep)) != len(keep):
        raise ValueError(f"plan for {name!r}: duplicate filter indices in {keep.tolist()}")
    return np.sort(keep)


def _parameter(tensor: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(tensor.detach().clone())


def _rewire(layers: list[tuple[str, nn.Module]], position: int, keep: torch.Tensor) -> None:
    """Keep filters ``keep`` of the convolution at ``position`` and rewire the layers after it."""
    name, conv = layers[position]
    channels = conv.out_channels
    conv.weight = _parameter(conv.weight[keep])
    if conv.bias is not None:
        conv.bias = _parameter(conv.bias[keep])
    conv.out_channels = len(keep)
    following = iter(layers[position + 1:])
    for next_name, layer in following:
        if isinstance(layer, nn.BatchNorm2d):
            layer.weight = _parameter(layer.weight[keep])
            layer.bias = _parameter(layer.bias[keep])
            layer.running_mean = layer.running_mean[keep].clone()
            layer.running_var = layer.running_var[keep].clone()
            layer.num_features = len(keep)
        elif isinstance(layer, _CHANNELWISE):
            continue
        elif isinstance(layer, nn.Conv2d) and layer.groups == 1:
            layer.weight = _parameter(layer.weight[:, keep])
            layer.in_channels = len(keep)
            return
        elif isinstance(layer, nn.Flatten) and layer.start_dim == 1:
            _rewire_dense_after_flatten(name, following, channels, keep)
            return
        else:
            raise ValueError(f"cannot prune {name!r}: it is followed by {next_name!r} "
                             f"({type(layer).__name__}), which the surgery cannot rewire")
    raise ValueError(f"cannot prune {name!r}: no later layer takes its channels as input "
                     "(pruning it would change the output of the network)")


def _rewire_dense_after_flatten(name: str, following, channels: int, keep: torch.Tensor) -> None:
    """Keep the input features of the first Linear after Flatten that came from channels ``keep``.

    ``nn.Flatten`` lays a ``(channels, h, w)`` map out channel by channel, so channel ``c``
    owns the ``h*w`` consecutive features starting at ``c * h*w``.
    """
    for next_name, layer in following:
        if isinstance(layer, (nn.Dropout, nn.Identity)):
            continue
        if not isinstance(layer, nn.Linear) or layer.in_features % channels:
            raise ValueError(f"cannot prune {name!r}: after its Flatten comes {next_name!r} "
                             f"({type(layer).__name__}), not a Linear layer taking "
                             f"{channels} channels' features")
        per_channel = layer.in_features // channels
        features = (keep[:, None] * per_channel + torch.arange(per_channel)).flatten()
        layer.weight = _parameter(layer.weight[:, features])
        layer.in_features = len(features)
        return
    raise ValueError(f"cannot prune {name!r}: no Linear layer after its Flatten")


def prune_model(model: nn.Sequential, plan: Mapping) -> nn.Sequential:
    """A new, physically smaller copy of ``model`` with the planned filters removed.

    For each planned convolution the surgery slices the conv's weight and bias, the
    BatchNorm after it (weight, bias, running mean, running variance), and the input
    channels of the next convolution, or, for the last convolution, the input features of
    the first Linear after Flatten that came from the removed channels (channels-first
    order: with ``DCASE21Baseline``'s ``AdaptiveMaxPool2d((2, 1))`` each channel owns 2
    consecutive features, with ``VGGishLike``'s 6 x 4 map it owns 24). Layers that act on
    each channel separately (ReLU, pooling, dropout) are passed through. The original
    model is left untouched, and a ``config["channels"]`` on the copy is updated, so
    ``type(model)(**pruned.config)`` builds the pruned architecture.

    Filters are ranked on the original weights, so a plan pruning several layers gives
    each layer the same filters it would get alone (as in the papers).

    Used by: Chapters 3 to 7 and the command line.

    Parameters
    ----------
    model : nn.Sequential
        A flat chain of named layers, such as ``DCASE21Baseline`` and ``VGGishLike``. For
        other networks (branches, residual connections) use
        :class:`audioprune_lite.pruning.CosineSimilarityImportance` with Torch-Pruning.
    plan : mapping of str to list of int or (float, str)
        Conv layer name (as ``model.named_modules()`` gives it) to either the indices of
        the filters to keep (any order; the kept filters keep their original order), or a
        ``(ratio, method)`` pair removing ``round(ratio * d)`` filters ranked by that
        criterion of :data:`~audioprune_lite.pruning.CRITERIA` with its defaults
        (seed 0). :func:`~audioprune_lite.pruning.pruning_plans` makes plans with
        another seed, or at the greedy pass's counts.

    Returns
    -------
    nn.Sequential
        The pruned copy, of the same class as ``model``.

    Raises
    ------
    ValueError
        Naming the problem: a layer the model lacks or that is not a Conv2d, a ratio outside
        (0, 1) or one removing every filter, an empty, non-integer, out-of-range or
        duplicated index list, or a layer after the conv that the surgery cannot rewire.
    TypeError
        If ``model`` is not an ``nn.Sequential``.

    Examples
    --------
    >>> from audioprune_lite.models import DCASE21Baseline
    >>> small = prune_model(DCASE21Baseline(), {"conv1": list(range(11)), "conv3": (0.25, "l1")})
    >>> small.config["channels"]
    (11, 16, 24)
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"prune_model rewires flat nn.Sequential chains such as DCASE21Baseline; "
                         f"got a {type(model).__name__}. Prune other networks through "
                         "Torch-Pruning with CosineSimilarityImportance")
    layers = dict(model.named_children())
    keep = {}
    for name, spec in plan.items():
        if name not in layers:
            raise ValueError(f"plan names {name!r}, which is not a layer of this "
                             f"{type(model).__name__}; its layers are {', '.join(layers)}")
        if not isinstance(layers[name], nn.Conv2d) or layers[name].groups != 1:
            raise ValueError(f"plan names {name!r}, a {type(layers[name]).__name__}; only "
                             "ungrouped Conv2d layers have filters to prune")
        keep[name] = _kept_filters(name, layers[name], spec)

    pruned = copy.deepcopy(model)
    chain = list(pruned.named_children())
    with torch.no_grad():
        for position, (name, _) in enumerate(chain):
            if name in keep:
                _rewire(chain, position, torch.from_numpy(keep[name]))
    config = getattr(pruned, "config", None)
    if isinstance(config, dict) and "channels" in config:
        config["channels"] = tuple(layer.out_channels for _, layer in chain
                                   if isinstance(layer, nn.Conv2d))
    return pruned

