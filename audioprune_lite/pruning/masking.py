"""Masking instead of removing: the same filters zeroed with ``torch.nn.utils.prune``.

PyTorch's ``torch.nn.utils.prune`` does not remove anything: it keeps the original tensor
(``weight_orig``), a 0/1 mask (``weight_mask``) and multiplies the two on every forward
pass. :func:`mask_filters` masks the filters a pruning plan removes (their weights and
bias, and their batch normalisation's scale and shift, so that the channel outputs exactly
zero): the network computes what :func:`~audioprune_lite.pruning.prune_model`'s smaller
network computes, at the unpruned network's size and cost. :func:`make_masks_permanent`
turns the masks into plain tensors holding the zeros; :func:`masked_state_dict` gives the
state dict such a network would have, leaving the masked one as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import nn
from torch.nn.utils import prune

__all__ = ["make_masks_permanent", "mask_filters", "masked_state_dict"]


def mask_filters(model: nn.Module, plan: Mapping) -> nn.Module:
    """A copy of ``model`` with every filter not kept by ``plan`` masked by ``torch.nn.utils.prune``.

    Used by: Chapters 4 and 9.

    Parameters
    ----------
    model : DCASE21Baseline
        Each pruned ``convN`` must be followed by its batch normalisation ``bnN``.
    plan : mapping of str to list of int
        Conv layer name to the indices of the filters to keep (as
        :func:`~audioprune_lite.pruning.pruning_plans` gives them).

    Returns
    -------
    torch.nn.Module
        The masked copy; ``model`` is untouched.
    """
    masked = copy.deepcopy(model)
    for name, keep in plan.items():
        conv, norm = getattr(masked, name), getattr(masked, "bn" + name.removeprefix("conv"))
        alive = torch.zeros(conv.out_channels)
        alive[torch.as_tensor(keep)] = 1
        prune.custom_from_mask(conv, "weight", alive[:, None, None, None].expand_as(conv.weight))
        for module, parameter in ((conv, "bias"), (norm, "weight"), (norm, "bias")):
            prune.custom_from_mask(module, parameter, alive)
    return masked


def make_masks_permanent(model: nn.Module) -> nn.Module:
    """Replace every mask of ``model`` by plain tensors holding the masked values, in place.

    ``torch.nn.utils.prune.remove`` on each masked parameter: the zeros stay, the mask and
    the original go. The result has the state dict of an unmasked network.

    Used by: Chapter 4.

    Returns
    -------
    torch.nn.Module
        ``model``.
    """
    for module in model.modules():
        for name in [n.removesuffix("_orig") for n, _ in module.named_parameters(recurse=False)
                     if n.endswith("_orig")]:
            prune.remove(module, name)
    return model


def masked_state_dict(model: nn.Module) -> dict:
    """``model``'s state dict with every mask applied: ``weight`` for ``weight_orig`` and ``weight_mask``.

    The state dict of the same network after :func:`make_masks_permanent`, without changing
    ``model`` (which could not be deep-copied to make them permanent on a copy: its masked
    weights are computed tensors, not leaves). For a network without masks it is the state
    dict, detached.

    Used by: :func:`audioprune_lite.deploy.export_onnx`.

    Returns
    -------
    dict of str to torch.Tensor
    """
    state = {name: value.detach() for name, value in model.state_dict().items()}
    for name in [n for n in state if n.endswith("_orig")]:
        plain = name.removesuffix("_orig")
        state[plain] = state.pop(name) * state.pop(plain + "_mask")
    return state
