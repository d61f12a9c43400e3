"""Passive, similarity-based filter pruning of CNNs (Singh and Plumbley, Interspeech 2022, ICASSP 2023).

The method looks at the weights only, never at data. Its steps, module by module:

- :mod:`~audioprune_lite.pruning.criteria` -- what the criteria measure: every filter's
  rank-1 prototype (:func:`filter_prototypes`), the cosine distances between prototypes
  (:func:`cosine_distances`, or the Nystrom approximation :func:`nystrom_similarity`),
  and the other criteria's scores (:func:`l1_norms`, :func:`distance_sums`);
- :mod:`~audioprune_lite.pruning.selection` -- which filters go: the closest pairs and the
  greedy pass (:func:`closest_pairs`, :func:`greedy_cosine_selection`), the registry of
  criteria (:data:`CRITERIA`), rankings (:func:`rank_filters`) and plans
  (:func:`pruning_plans`);
- :mod:`~audioprune_lite.pruning.surgery` -- :func:`prune_model`, a new, physically
  smaller network;
- :mod:`~audioprune_lite.pruning.masking` -- :func:`mask_filters`, the same filters masked
  with ``torch.nn.utils.prune`` instead (same function, no saving), and
  :func:`make_masks_permanent`;
- :mod:`~audioprune_lite.pruning.torch_pruning_adapter` --
  :class:`CosineSimilarityImportance`, the cosine criterion for Torch-Pruning (any CNN).
  It needs the ``[book]`` extra and is imported on first use, so that the rest of the
  package works without it;
- :mod:`~audioprune_lite.pruning.reference` -- the plain one-filter-at-a-time version
  that the tests compare with (not imported here).

The public names of the first five modules can all be imported from
:mod:`audioprune_lite.pruning` itself, e.g. ``from audioprune_lite.pruning import prune_model``.
"""

from __future__ import annotations

from .criteria import (
    cosine_distances,
    distance_sums,
    filter_prototypes,
    l1_norms,
    leading_eigenvectors,
    nystrom_similarity,
    similarity_to_distances,
)
from .selection import (
    CRITERIA,
    SELECTION_RULES,
    Criterion,
    closest_pairs,
    filters_to_keep,
    greedy_cosine_selection,
    greedy_order,
    greedy_steps,
    pruning_plans,
    rank_filters,
)
from .masking import make_masks_permanent, mask_filters, masked_state_dict
from .surgery import prune_model

__all__ = [
    "CRITERIA",
    "SELECTION_RULES",
    "CosineSimilarityImportance",
    "Criterion",
    "closest_pairs",
    "cosine_distances",
    "distance_sums",
    "filter_prototypes",
    "filters_to_keep",
    "greedy_cosine_selection",
    "greedy_order",
    "greedy_steps",
    "l1_norms",
    "leading_eigenvectors",
    "make_masks_permanent",
    "mask_filters",
    "masked_state_dict",
    "nystrom_similarity",
    "prune_model",
    "pruning_plans",
    "rank_filters",
    "similarity_to_distances",
]


def __getattr__(name: str):
    """Import the Torch-Pruning adapter on first use (it needs the ``[book]`` extra)."""
    if name == "CosineSimilarityImportance":
        from .torch_pruning_adapter import CosineSimilarityImportance

        return CosineSimilarityImportance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
