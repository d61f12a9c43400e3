"""Which filters go: the greedy pass, the criteria registry, rankings and pruning plans.

From the distances of :mod:`audioprune_lite.pruning.criteria`:

1. :func:`closest_pairs` -- each filter's nearest other filter, the pairs sorted closest
   first (ties to the lower filter index);
2. :func:`greedy_steps` and :func:`greedy_cosine_selection` -- the greedy pass over those
   pairs that decides which filters the cosine method keeps;
3. :func:`greedy_order` -- the filters least important first, by repeated greedy passes,
   so that the method extends to any number of filters removed.

:data:`CRITERIA` is the registry of the criteria the book compares (cosine, its Nystrom
variant, l1 norm, geometric median, random); :func:`rank_filters` orders a layer's
filters by any of them, :func:`filters_to_keep` keeps all but the first ``n``, and
:func:`pruning_plans` does it for several layers and criteria at once, at equal numbers
of filters removed. The book's page "The method and the published figures" states the
algorithm and its tie rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import nn

from .criteria import (
    _filters,
    _float64,
    _numpy,
    cosine_distances,
    distance_sums,
    filter_prototypes,
    l1_norms,
    nystrom_similarity,
    similarity_to_distances,
)

__all__ = [
    "CRITERIA",
    "SELECTION_RULES",
    "Criterion",
    "closest_pairs",
    "filters_to_keep",
    "greedy_cosine_selection",
    "greedy_order",
    "greedy_steps",
    "pruning_plans",
    "rank_filters",
]

SELECTION_RULES = ("published", "unmarked")
"""The rules :func:`greedy_cosine_selection` accepts for which filters count as kept."""


def _square(distances) -> np.ndarray:
    """A ``d x d`` matrix with ``d >= 2`` as a float64 array (not copied if it is one)."""
    matrix = _numpy(distances).astype(np.float64, copy=False)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise ValueError(
            f"distances must be a square d x d matrix with d >= 2 filters, got shape {matrix.shape}"
        )
    return matrix


def closest_pairs(distances) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each filter's nearest other filter, in the order the greedy pass visits them.

    For every filter ``i`` the nearest filter ``n(i)`` is the one with the smallest
    ``D[i, j]`` over ``j != i`` (the filter itself is excluded even when an exact duplicate
    also sits at distance 0). The ``d`` pairs ``(i, n(i))`` are sorted by ``D[i, n(i)]``,
    smallest first. Ties are broken by the lower filter index, both when choosing ``n(i)``
    and when ordering the pairs, so the result is the same on every machine (the published
    code relied on NumPy's default sort, whose order among equal values is not guaranteed).

    Used by: Chapter 3 (the greedy pass, step by step).

    Parameters
    ----------
    distances : array_like, shape (d, d)
        Pairwise distances, ``d >= 2``.

    Returns
    -------
    filters : numpy.ndarray of int, shape (d,)
        The filters ``i``, in visiting order.
    neighbours : numpy.ndarray of int, shape (d,)
        Their nearest filters ``n(i)``.
    pair_distances : numpy.ndarray of float, shape (d,)
        ``D[i, n(i)]``, non-decreasing.
    """
    matrix = _square(distances)
    others = ~np.eye(len(matrix), dtype=bool)  # every filter but the filter itself
    nearest = matrix.min(axis=1, where=others, initial=np.inf)
    neighbours = ((matrix == nearest[:, None]) & others).argmax(axis=1)  # the first, lowest, index
    filters = np.argsort(nearest, kind="stable")  # stable: equal distances keep index order
    return filters, neighbours[filters], nearest[filters]


def greedy_steps(filters, neighbours) -> np.ndarray:
    """The greedy pass over ordered pairs, one step per pair: does the step keep its filter?

    At step ``s`` the pass looks at the pair ``(filters[s], neighbours[s])``. If
    ``filters[s]`` has not been marked redundant by an earlier step, it is kept and
    ``neighbours[s]`` is marked redundant; otherwise the step is skipped. A filter kept at
    one step and marked at a later one stays kept (see :func:`greedy_cosine_selection`).

    Used by: :func:`greedy_cosine_selection`, :func:`greedy_order` and the step-by-step
    explorer :func:`audioprune_lite.widgets.greedy_pass_explorer`.

    Parameters
    ----------
    filters, neighbours : array_like of int, shape (d,)
        The pairs in visiting order, as :func:`closest_pairs` returns them.

    Returns
    -------
    numpy.ndarray of bool, shape (d,)
        True where the step keeps ``filters[s]`` (and marks ``neighbours[s]``), False where
        ``filters[s]`` was already marked and the step is skipped.
    """
    marked = np.zeros(len(filters), dtype=bool)
    keeps = np.zeros(len(filters), dtype=bool)
    for step, (i, nearest) in enumerate(zip(np.asarray(filters).tolist(),
                                            np.asarray(neighbours).tolist())):
        if not marked[i]:
            keeps[step] = True
            marked[nearest] = True
    return keeps


def greedy_cosine_selection(distances, *, rule: str = "published") -> np.ndarray:
    """The filters the paper's greedy pass keeps as important.

    The pass walks the closest pairs ``(i, n(i))`` in the order of :func:`closest_pairs`
    (closest first, ties to the lower index). If ``i`` has not been marked redundant, it
    is kept and ``n(i)`` is marked redundant (:func:`greedy_steps`). The number of filters
    kept falls out of the pass; there is no ratio.

    Semantics of the kept list (``rule="published"``, the default): marking only stops a
    filter from being kept *later*. A filter kept earlier that a later pair marks stays in
    the kept list, exactly as in the published code. The example below, worked step by
    step on the book's page "The method and the published figures", keeps ``[0, 2, 3]``:
    filter 2 is kept at pair (2, 1) and marked at pair (3, 2), and stays.

    What the pass guarantees: every filter it drops was marked by a kept filter ``j``
    whose pair came earlier, that is, the dropped filter is ``n(j)``; when ``D`` is
    symmetric (as :func:`~audioprune_lite.pruning.cosine_distances` makes it),
    ``D[i, j]`` then equals the dropped filter's own nearest distance ``D[i, n(i)]``. Each
    kept filter marks one filter, so at most half of the filters are dropped, and at
    least one is (the nearest filter of the first pair).

    ``rule="unmarked"`` is an alternative: keep only the filters that end the pass
    unmarked, so that no kept filter was declared redundant to another kept filter. It
    removes more filters (``[0, 3]`` in the example) and is not the published algorithm.

    Used by: Chapter 3.

    Parameters
    ----------
    distances : array_like, shape (d, d)
        Pairwise distances, as :func:`~audioprune_lite.pruning.cosine_distances`
        returns them.
    rule : {"published", "unmarked"}
        Which filters count as kept, see above.

    Returns
    -------
    numpy.ndarray of int, shape (n_kept,)
        The kept filter indices, in increasing order.

    Examples
    --------
    >>> D = [[0, .1, .5, .6], [.1, 0, .2, .7], [.5, .2, 0, .3], [.6, .7, .3, 0]]
    >>> greedy_cosine_selection(D).tolist()
    [0, 2, 3]
    """
    if rule not in SELECTION_RULES:
        raise ValueError(f"rule must be one of {SELECTION_RULES}, got {rule!r}")
    filters, neighbours, _ = closest_pairs(distances)
    keeps = greedy_steps(filters, neighbours)
    kept = filters[keeps]
    if rule == "unmarked":
        kept = np.setdiff1d(kept, neighbours[keeps])
    return np.sort(kept).astype(np.int64)


def greedy_order(distances) -> np.ndarray:
    """The filters least important first, by repeated greedy passes.

    The filters the greedy pass drops come first, in :func:`closest_pairs` order (closest
    pair first); then the pass runs again on the filters it kept alone, and so on, until
    one filter is left. Once its near-duplicate is gone, a kept filter is no longer
    redundant, so its distance to a removed filter must not count. Each pass drops at
    least one filter, so the loop ends.

    Used by: the ``"cosine"`` criteria of :data:`CRITERIA` and
    :class:`audioprune_lite.pruning.CosineSimilarityImportance`.

    Parameters
    ----------
    distances : array_like, shape (d, d)
        Pairwise distances.

    Returns
    -------
    numpy.ndarray of int, shape (d,)
        A permutation of ``range(d)``, least important filter first.
    """
    distances = _square(distances)
    remaining = np.arange(len(distances))
    order = []
    while len(remaining) > 1:
        filters, neighbours, _ = closest_pairs(distances[np.ix_(remaining, remaining)])
        keeps = greedy_steps(filters, neighbours)
        order.append(remaining[filters[~keeps]])
        remaining = remaining[np.sort(filters[keeps])]
    return np.concatenate(order + [remaining])


@dataclass(frozen=True)
class Criterion:
    """A pruning criterion of :data:`CRITERIA`: how it orders a layer's filters, and what it is.

    Attributes
    ----------
    rank : callable
        ``rank(filters, seed, **options)``, with ``filters`` the layer's weight as a float64
        array ``(d, c_in, kh*kw)``; returns a permutation of ``range(d)``, least important
        filter first, ties to the lower index. Only seed-dependent criteria read ``seed``.
    description : str
        One line, shown by ``audioprune prune --help``.
    options : tuple of str
        The keyword options it takes besides the seed.
    """

    rank: Callable[..., np.ndarray]
    description: str
    options: tuple[str, ...] = ()


def _smallest_first(scores: np.ndarray) -> np.ndarray:
    return np.argsort(scores, kind="stable")  # stable: ties to the lower index


def _by_cosine(filters: np.ndarray, seed: int) -> np.ndarray:
    return greedy_order(cosine_distances(filter_prototypes(filters)))


def _by_nystrom(filters: np.ndarray, seed: int, m: int | None = None,
                k: int | None = None) -> np.ndarray:
    prototypes = filter_prototypes(filters)
    m = min(len(prototypes), prototypes.shape[1]) if m is None else m
    similarity = nystrom_similarity(prototypes, m, m if k is None else k)
    return greedy_order(similarity_to_distances(similarity))


def _by_l1(filters: np.ndarray, seed: int) -> np.ndarray:
    return _smallest_first(l1_norms(filters))


def _by_geometric_median(filters: np.ndarray, seed: int) -> np.ndarray:
    return _smallest_first(distance_sums(filters))


def _by_random(filters: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(len(filters))


CRITERIA = {
    "cosine": Criterion(_by_cosine, "the papers' criterion, which removes the filters the greedy "
                                    "pass drops first, then runs the pass again on those it kept"),
    "cosine-nystrom": Criterion(_by_nystrom, "the same on the Nystrom approximation of the "
                                             "similarities (ICASSP 2023)", options=("m", "k")),
    "l1": Criterion(_by_l1, "the smallest sum of absolute weights first (Li et al., 2017)"),
    "geometric-median": Criterion(_by_geometric_median, "the filters nearest the geometric "
                                                        "median first (FPGM, He et al., 2019)"),
    "random": Criterion(_by_random, "a random order drawn with the seed"),
}
"""The criteria the book compares, by name: the one registry that :func:`rank_filters` (and
through it :func:`filters_to_keep`, :func:`pruning_plans` and the ``(ratio, method)`` plans
of :func:`~audioprune_lite.pruning.prune_model`) and the command line's ``--method``
choices read."""


def rank_filters(conv_weight, method: str, *, seed: int = 0, m: int | None = None,
                 k: int | None = None) -> np.ndarray:
    """The filters of a convolutional layer ordered by a pruning criterion, least important first.

    Pruning the first ``n`` filters of the order removes ``n`` filters by that criterion,
    which lets the criteria be compared at equal budgets. Ties are broken by the lower
    filter index throughout. For ``"cosine"`` the filters the greedy pass of
    :func:`greedy_cosine_selection` drops come first (:func:`greedy_order`), so removing
    exactly as many filters as the greedy pass drops removes exactly the greedy's filters,
    and removing fewer or more extends the method to any ratio. The criteria and what each
    does are listed in :data:`CRITERIA`.

    Used by: :func:`filters_to_keep` and the tests.

    Parameters
    ----------
    conv_weight : torch.Tensor or numpy.ndarray, shape (d, c_in, kh, kw)
        The weight of the layer.
    method : str
        A name of :data:`CRITERIA`.
    seed : int
        Seed of the seed-dependent criteria (``"random"``).
    m, k : int, optional
        Landmarks and rank of ``"cosine-nystrom"``; no other criterion takes them. Default
        ``m = min(d, kh*kw)``, where the approximation is exact for generic filters, and
        ``k = m``.

    Returns
    -------
    numpy.ndarray of int, shape (d,)
        A permutation of ``range(d)``, least important filter first.
    """
    if method not in CRITERIA:
        raise ValueError(f"unknown ranking method {method!r}; choose one of {tuple(CRITERIA)}")
    criterion = CRITERIA[method]
    options = {name: value for name, value in (("m", m), ("k", k)) if value is not None}
    unknown = sorted(set(options) - set(criterion.options))
    if unknown:
        raise ValueError(f"method {method!r} takes no option {' or '.join(unknown)}; "
                         "m and k set the Nystrom approximation of 'cosine-nystrom'")
    return criterion.rank(_float64(_filters(conv_weight)), seed, **options)


def filters_to_keep(conv_weight, method: str = "cosine", *, ratio: float | None = None,
                    seed: int = 0) -> np.ndarray:
    """The filters a criterion keeps in one layer: all but the first ``n`` of its ranking.

    ``n`` is ``round(ratio * d)``, or, without a ratio, the number of filters the greedy
    cosine pass drops from this layer, so that every criterion removes as many filters as
    the paper's method (and ``"cosine"`` removes exactly its filters).

    Used by: :func:`pruning_plans` and the ``(ratio, method)`` plans of
    :func:`audioprune_lite.pruning.prune_model`.

    Parameters
    ----------
    conv_weight : torch.Tensor or numpy.ndarray, shape (d, c_in, kh, kw)
        The weight of the layer.
    method : str
        A name of :data:`CRITERIA`.
    ratio : float, optional
        Share of the filters to remove, in (0, 1).
    seed : int
        Seed of the seed-dependent criteria (``"random"``).

    Returns
    -------
    numpy.ndarray of int, shape (n_kept,)
        The kept filter indices, in increasing order.
    """
    filters = _float64(_filters(conv_weight))
    d = len(filters)
    if ratio is None:
        n_removed = d - len(greedy_cosine_selection(cosine_distances(filter_prototypes(filters))))
    elif not 0 < ratio < 1:
        raise ValueError(f"the ratio of filters to remove must lie in (0, 1), got {ratio}")
    else:
        n_removed = round(ratio * d)
        if n_removed == d:
            raise ValueError(f"ratio {ratio} would remove all {d} filters")
    return np.sort(rank_filters(filters, method, seed=seed)[n_removed:])


def pruning_plans(model: nn.Module, layers=None, *, methods=("cosine", "l1"),
                  ratio: float | None = None, seed: int = 0) -> dict:
    """The filters each criterion keeps in each layer, as plans for ``prune_model``.

    In every layer each criterion removes the same number of filters: by default as many
    as the greedy cosine pass removes from that layer (the papers' comparison of cosine
    and l1), or ``round(ratio * d)``. The plans of one call therefore all give the same
    architecture through :func:`audioprune_lite.pruning.prune_model`. Each layer
    is ranked on its own, original weights, as in the papers.

    Used by: Chapters 4 to 7 and the command line.

    Parameters
    ----------
    model : torch.nn.Module
        A trained network, e.g. the DCASE 2021 baseline.
    layers : sequence of str, optional
        The convolutions to prune, by their names in ``model.named_modules()``; default
        every ``nn.Conv2d`` of the model (``conv1``, ``conv2``, ``conv3`` of the baseline).
    methods : sequence of str
        Names of :data:`CRITERIA`; default cosine and l1.
    ratio : float, optional
        Share of each layer's filters to remove, in (0, 1); default the greedy pass's count.
    seed : int
        Seed of the seed-dependent criteria (``"random"``), the same for every layer.

    Returns
    -------
    dict
        ``{method: {layer: kept indices}}``, indices sorted, in the order of ``methods``
        and ``layers``.

    Raises
    ------
    ValueError
        For an unknown criterion, a layer the model lacks or that is not a convolution, or
        a ratio outside (0, 1).
    """
    unknown = [method for method in methods if method not in CRITERIA]
    if unknown:
        raise ValueError(f"unknown ranking methods {unknown}; choose from {tuple(CRITERIA)}")
    convs = {name: layer for name, layer in model.named_modules() if isinstance(layer, nn.Conv2d)}
    names = list(convs) if layers is None else list(layers)
    missing = [name for name in names if name not in convs]
    if missing:
        raise ValueError(f"{missing} are not convolutions of this {type(model).__name__}; "
                         f"its convolutions are {', '.join(convs)}")
    return {method: {name: filters_to_keep(convs[name].weight, method, ratio=ratio, seed=seed)
                     for name in names}
            for method in methods}
