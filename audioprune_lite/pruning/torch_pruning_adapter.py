"""The cosine criterion for Torch-Pruning, which prunes any CNN, residual networks included.

This is the only module of the package that imports Torch-Pruning, which the ``[book]``
extra installs; without it, importing this module raises
:class:`~audioprune_lite.extras.MissingExtraError`, which says what to install.
``from audioprune_lite.pruning import CosineSimilarityImportance`` imports it on first use.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..extras import require
from .criteria import cosine_distances, filter_prototypes
from .selection import greedy_order

tp = require("torch_pruning", extra="book")

__all__ = ["CosineSimilarityImportance"]


class CosineSimilarityImportance(tp.importance.Importance):
    """The paper's cosine criterion as a Torch-Pruning importance, for any CNN.

    Torch-Pruning's dependency graph gathers layers whose channels must be pruned together
    (a convolution, its BatchNorm, the next layers' inputs, and, across a residual
    addition, every convolution feeding the sum) into a group; this class scores the
    group's channels and Torch-Pruning does the surgery. The cosine distances of all
    convolutions in the group whose output channels are pruned are averaged (a channel is
    redundant when it is redundant in each of them), and the channels are ordered as
    ``rank_filters(..., "cosine")`` orders filters. The score of a channel is its position
    in that order (0 for the first to prune), so removing ``n`` channels of a group with
    one convolution removes exactly the first ``n`` filters of ``rank_filters``.

    Scores are ranks within a group: use local pruning (Torch-Pruning's default
    ``global_pruning=False``), with per-layer ratios if wanted. Groups without a
    convolution of kernel larger than 1x1 get no score and are left unpruned: a 1x1
    filter's prototype is just a sign, so the criterion cannot tell such filters apart.
    Ignore the output layer as usual (``ignored_layers=[model.fc]``).

    Used by: Chapter 4 (pruning a residual network).

    Parameters
    ----------
    decimals : int or None
        Rounding of the cosine distances, as in :func:`cosine_distances`. Default 5.

    Examples
    --------
    >>> import torch_pruning as tp
    >>> from audioprune_lite.models import DCASE21Baseline
    >>> model = DCASE21Baseline()
    >>> pruner = tp.pruner.MetaPruner(
    ...     model, torch.zeros(1, 1, 40, 100), importance=CosineSimilarityImportance(),
    ...     pruning_ratio=0.25, ignored_layers=[model.dense, model.output])
    >>> pruner.step()
    >>> model.conv3.out_channels
    24
    """

    def __init__(self, decimals: int | None = 5):
        self.decimals = decimals

    @torch.no_grad()
    def __call__(self, group) -> torch.Tensor | None:
        """Scores of the group's channels, shape ``(n,)``, higher meaning more important."""
        n = len(group[0].idxs)
        total = np.zeros((n, n))
        n_convs = 0
        for i, (dep, idxs) in enumerate(group):
            layer = dep.layer
            if (dep.pruning_fn != tp.prune_conv_out_channels
                    or not isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d))
                    or np.prod(layer.kernel_size) == 1):
                continue
            positions = np.asarray(group[i].root_idxs)
            prototypes = filter_prototypes(layer.weight[idxs])
            total[np.ix_(positions, positions)] += cosine_distances(prototypes, decimals=self.decimals)
            n_convs += 1
        if n_convs == 0 or n < 2:
            return None
        scores = torch.empty(n)
        scores[greedy_order(total / n_convs)] = torch.arange(n, dtype=torch.float32)
        return scores
