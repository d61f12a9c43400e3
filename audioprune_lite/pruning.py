"""Passive, similarity-based filter pruning of CNNs (Singh and Plumbley, Interspeech 2022, ICASSP 2023).

The method looks at the weights only, never at data. For one convolutional layer:

1. :func:`filter_prototypes` -- every filter becomes a unit vector of length ``kh*kw``, the
   left singular vector of its rank-1 approximation;
2. :func:`cosine_distances` -- the ``d x d`` matrix of cosine distances between the
   prototypes (or :func:`nystrom_similarity`, the ICASSP 2023 approximation of the
   similarities, turned into distances by :func:`similarity_to_distances`);
3. :func:`closest_pairs` and :func:`greedy_cosine_selection` -- each filter's nearest other
   filter, and the greedy pass over those pairs, closest first, that decides which filters
   are kept;
4. :func:`prune_model` -- the surgery: a new, physically smaller network.

:func:`rank_filters` orders the filters of a layer by any of the book's criteria (cosine,
its Nystrom variant, l1 norm, geometric median, random), least important first, so that
criteria can be compared at equal budgets. :class:`CosineSimilarityImportance` brings the
cosine criterion to Torch-Pruning, whose dependency graph prunes any CNN, residual
networks included.

Everything is computed in float64 and for all filters of a layer at once; the plain
one-filter-at-a-time version that the tests compare against is
:mod:`audioprune_lite.pruning_reference`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import torch
import torch_pruning as tp
from scipy.spatial.distance import cdist
from torch import nn

__all__ = [
    "RANKING_METHODS",
    "SELECTION_RULES",
    "CosineSimilarityImportance",
    "closest_pairs",
    "cosine_distances",
    "filter_prototypes",
    "greedy_cosine_selection",
    "leading_eigenvectors",
    "nystrom_similarity",
    "prune_model",
    "rank_filters",
    "similarity_to_distances",
]

RANKING_METHODS = ("cosine", "cosine-nystrom", "l1", "geometric-median", "random")
"""The criteria :func:`rank_filters` and :func:`prune_model` accept."""

SELECTION_RULES = ("published", "unmarked")
"""The rules :func:`greedy_cosine_selection` accepts for which filters count as kept."""

# Layers that act on each channel separately: the surgery passes through them unchanged.
_CHANNELWISE = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d,
                nn.Dropout, nn.Dropout2d, nn.Identity)


def _numpy(array) -> np.ndarray:
    """A tensor or array-like as a NumPy array, without copying where possible."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def _float64(array) -> np.ndarray:
    """A float64 NumPy copy of a tensor or array."""
    return np.array(_numpy(array), dtype=np.float64)


def _filters(conv_weight) -> np.ndarray:
    """The filters of a convolution as the ``M_i^T``: an array ``(d, c_in, kh*kw)``, not copied.

    ``conv_weight`` is ``(d, c_in, kh, kw)`` (or any kernel rank) and keeps its float type.
    """
    weight = _numpy(conv_weight)
    if weight.ndim < 3:
        raise ValueError(
            f"conv_weight must have shape (d, c_in, kh, kw) as in nn.Conv2d.weight, got {weight.shape}"
        )
    return weight.reshape(*weight.shape[:2], -1)


def _gram_matrices(columns: np.ndarray, block: int = 32) -> np.ndarray:
    """The smaller Gram matrix of every filter in float64: ``M_i M_i^T``, or ``M_i^T M_i`` if c_in < kh*kw.

    ``columns[i]`` is ``M_i^T``. The filters are converted to float64 ``block`` at a time,
    so that each block is still in the processor's cache when it is multiplied; on the
    widest VGGish layer this is about a fifth faster than converting the whole weight first.
    """
    d, c_in, kernel = columns.shape
    size = min(c_in, kernel)
    grams = np.empty((d, size, size))
    for start in range(0, d, block):
        part = columns[start:start + block].astype(np.float64)
        factors = (part, part.transpose(0, 2, 1)) if c_in < kernel else (part.transpose(0, 2, 1), part)
        np.matmul(*factors, out=grams[start:start + block])
    return grams


def _square(distances) -> np.ndarray:
    """A ``d x d`` matrix with ``d >= 2`` as a float64 array (not copied if it is one)."""
    matrix = _numpy(distances).astype(np.float64, copy=False)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise ValueError(
            f"distances must be a square d x d matrix with d >= 2 filters, got shape {matrix.shape}"
        )
    return matrix


def filter_prototypes(conv_weight) -> np.ndarray:
    """The unit rank-1 prototype of every filter of a convolutional layer.

    Filter ``i`` of shape ``(c_in, kh, kw)`` is viewed as the matrix ``M_i`` of shape
    ``(kh*kw, c_in)`` (one column per input channel, kernel positions row by row). Its
    rank-1 approximation ``s1 u1 v1^T`` gives the unit vector ``u1`` of length ``kh*kw``,
    the prototype. Its sign is fixed as in the published code: the prototype is the
    normalised first column of the rank-1 matrix, that is ``u1 * sign(v1[0])`` (``+u1``
    when ``v1[0]`` is exactly zero). For a first layer (``c_in = 1``) the prototype is
    the normalised flattened filter.

    All filters are processed at once, through the smaller of the two Gram matrices of
    each ``M_i``: ``u1`` is the leading eigenvector of ``M_i M_i^T`` (``kh*kw x kh*kw``,
    the smaller one for wide layers), or ``M_i v1`` normalised, with ``v1`` the leading
    eigenvector of ``M_i^T M_i`` (``c_in x c_in``, the smaller one when
    ``c_in < kh*kw``). :func:`leading_eigenvectors` finds them for the whole layer by
    batched repeated squaring. This replaces ``d`` singular value decompositions of
    ``(kh*kw, c_in)`` matrices; the result agrees with the per-filter SVD of
    :func:`audioprune_lite.pruning_reference.reference_prototypes` to about 1e-12.
    ``sign(v1[0])`` is the sign of ``u1 . M_i[:, 0]``, because ``v1 = M_i^T u1 / s1``.

    Used by: Chapter 3 (filters as images, prototypes).

    Parameters
    ----------
    conv_weight : torch.Tensor or numpy.ndarray, shape (d, c_in, kh, kw)
        The weight of a convolution as ``nn.Conv2d.weight`` stores it.

    Returns
    -------
    numpy.ndarray, float64, shape (d, kh*kw)
        Row ``i`` is the unit-norm prototype of filter ``i``.

    Raises
    ------
    ValueError
        If a filter is all zeros: it has no direction, hence no prototype.
    """
    columns = _filters(conv_weight)  # (d, c_in, kh*kw): the M_i^T
    grams = _gram_matrices(columns)
    zero = np.flatnonzero(np.einsum("dkk->d", grams) <= 0)  # the trace is the squared norm
    if len(zero):
        raise ValueError(f"filters {zero.tolist()} are all zeros and have no prototype")
    if len(grams[0]) < columns.shape[2]:
        v1 = leading_eigenvectors(grams)  # of M^T M
        u1 = np.einsum("dck,dc->dk", columns.astype(np.float64), v1)  # M v1 = s1 u1
        u1 /= np.linalg.norm(u1, axis=1, keepdims=True)
    else:
        u1 = leading_eigenvectors(grams)  # of M M^T
    first_column = np.einsum("dk,dk->d", u1, columns[:, 0, :].astype(np.float64))
    return u1 * np.where(first_column < 0, -1.0, 1.0)[:, None]


def leading_eigenvectors(grams, *, squarings: int = 12, tolerance: float = 1e-13) -> np.ndarray:
    """The unit leading eigenvector of every matrix in a batch of Gram matrices.

    Power iteration by repeated squaring. For a symmetric positive semi-definite ``G``
    with eigenvalues ``l1 > l2 >= ...``, the power ``G^(2^k)`` tends to
    ``l1^(2^k) u1 u1^T`` with the other terms shrinking like ``(l2/l1)^(2^k)``; each
    squaring doubles the exponent, so 12 batched products reach ``G^4096``, and every
    column of that power is a multiple of ``u1``. The power is rescaled to unit trace
    after each product so that it neither overflows nor underflows.

    Convergence is checked, not assumed. With ``P`` the unit-trace power and ``u`` the
    normalised column on its largest diagonal entry, ``1 - u^T P u`` is at least the
    share of the trace that the other eigenvalues still hold. Where it exceeds
    ``tolerance`` (a top eigenvalue repeated or nearly so: ``l2/l1`` above about 0.993),
    the matrix goes to ``numpy.linalg.eigh`` instead. The result is the same unit vector
    as ``eigh`` gives, up to sign, to about 1e-14, in a fraction of the time for the
    book's 9 x 9 matrices.

    Used by: Chapter 3 (through :func:`filter_prototypes`; how the prototypes are computed fast).

    Parameters
    ----------
    grams : array_like, shape (n, k, k)
        Symmetric positive semi-definite matrices, none of them all zeros.
    squarings : int
        Number of squarings. Default 12, the fastest for the book's layers.
    tolerance : float
        Largest trace share left to the other eigenvalues. Default 1e-13.

    Returns
    -------
    numpy.ndarray, float64, shape (n, k)
        Row ``i`` is a unit leading eigenvector of ``grams[i]``; its sign is arbitrary.
    """
    grams = _numpy(grams).astype(np.float64, copy=False)  # read, never written
    power = grams / np.einsum("nkk->n", grams)[:, None, None]
    for _ in range(squarings):
        power = power @ power
        power /= np.einsum("nkk->n", power)[:, None, None]
    rows = np.arange(len(power))
    vectors = power[rows, :, np.argmax(np.diagonal(power, axis1=1, axis2=2), axis=1)]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    leftover = 1.0 - np.einsum("nk,nk->n", np.einsum("nkl,nl->nk", power, vectors), vectors)
    slow = np.flatnonzero(leftover > tolerance)
    if len(slow):
        vectors[slow] = np.linalg.eigh(grams[slow])[1][:, :, -1]
    return vectors


def similarity_to_distances(similarity, *, decimals: int | None = 5) -> np.ndarray:
    """Cosine distances ``D = 1 - S`` from cosine similarities, zero on the diagonal.

    By default ``D`` is rounded to 5 decimals, as the ICASSP 2023 code does; the rounding
    turns near-ties into ties that the lower-index rule of :func:`closest_pairs` then
    breaks. The Interspeech 2022 code (the one behind the 11/11/22 result) did not round:
    pass ``decimals=None`` for that. ``S`` should be exactly symmetric, so that ``D[i, j]``
    and ``D[j, i]`` tie; :func:`cosine_distances` and :func:`nystrom_similarity` make sure
    it is.

    Used by: Chapter 3 (the Nystrom heatmaps).

    Parameters
    ----------
    similarity : array_like, shape (d, d)
        Cosine similarities, from :func:`nystrom_similarity` for instance.
    decimals : int or None
        Decimals to round to (``numpy.round``), or None for no rounding. Default 5.

    Returns
    -------
    numpy.ndarray, float64, shape (d, d)
        Distances between 0 (same direction) and 2 (opposite directions).
    """
    return _distances_in_place(_float64(similarity), decimals)


def _distances_in_place(similarity: np.ndarray, decimals: int | None) -> np.ndarray:
    """``similarity_to_distances`` overwriting its float64 argument, which saves a copy."""
    distances = np.subtract(1.0, similarity, out=similarity)
    np.fill_diagonal(distances, 0.0)
    if decimals is not None:
        np.round(distances, decimals, out=distances)
    return distances


def cosine_distances(prototypes, *, decimals: int | None = 5) -> np.ndarray:
    """Pairwise cosine distances between filter prototypes: ``D[i, j] = 1 - <p_i, p_j>``.

    The prototypes have unit norm, so the cosine similarity is their inner product.
    NumPy computes ``P @ P.T`` with a symmetric rank-k update, so ``D`` is exactly
    symmetric; the diagonal is zero. Rounded to 5 decimals by default, as explained in
    :func:`similarity_to_distances`.

    Used by: Chapter 3 (the similarity heatmap, the greedy pass).

    Parameters
    ----------
    prototypes : array_like, shape (d, kh*kw)
        Unit-norm prototypes, as :func:`filter_prototypes` returns them.
    decimals : int or None
        Decimals to round to, or None for no rounding (the Interspeech 2022 code). Default 5.

    Returns
    -------
    numpy.ndarray, float64, shape (d, d)
        Distances between 0 and 2.
    """
    prototypes = _float64(prototypes)
    return _distances_in_place(prototypes @ prototypes.T, decimals)


def nystrom_similarity(prototypes, m: int, k: int) -> np.ndarray:
    """The Nystrom approximation of the cosine similarity matrix (ICASSP 2023).

    With ``C = P P_m^T`` the similarities of all ``d`` prototypes to the first ``m``
    (the landmarks, chosen as the published code chooses them) and ``W = C[:m, :m]``,
    ``S ~ C W_k^+ C^T``, where ``W_k^+`` is the pseudo-inverse of the rank-``k``
    approximation of ``W``. ``W`` is symmetric positive semi-definite, so with its top
    ``k`` eigenpairs ``W_k^+ = U_k L_k^-1 U_k^T`` and ``S ~ F F^T`` with
    ``F = C U_k L_k^(-1/2)``, which is exactly symmetric. Eigenvalues below
    ``m * eps * l_max`` count as zero, as in ``numpy.linalg.matrix_rank``: the prototypes
    have length ``kh*kw``, so ``W`` has rank at most ``kh*kw``.

    The approximation is exact whenever the landmarks span the prototypes: ``m = d``, or
    ``m >= kh*kw`` linearly independent landmarks (as random filters have). Once the
    prototypes are computed it saves little, since the exact ``P P^T`` costs only
    ``d * d * kh*kw`` multiply-adds; Chapter 3 measures this. Turn ``S`` into distances
    with :func:`similarity_to_distances`.

    Used by: Chapter 3 (the Nystrom timing study).

    Parameters
    ----------
    prototypes : array_like, shape (d, kh*kw)
        Unit-norm prototypes.
    m : int
        Number of landmarks, ``1 <= m <= d``.
    k : int
        Rank kept of the landmark matrix ``W``, ``1 <= k <= m``.

    Returns
    -------
    numpy.ndarray, float64, shape (d, d)
        Approximate cosine similarities.
    """
    prototypes = _float64(prototypes)
    d = len(prototypes)
    if not 1 <= k <= m <= d:
        raise ValueError(f"need 1 <= k <= m <= d, got k={k}, m={m}, d={d}")
    to_landmarks = prototypes @ prototypes[:m].T                # C, (d, m)
    eigenvalues, eigenvectors = np.linalg.eigh(to_landmarks[:m])  # W, ascending eigenvalues
    top = np.arange(m - 1, m - 1 - k, -1)
    top = top[eigenvalues[top] > eigenvalues[-1] * m * np.finfo(float).eps]
    factor = to_landmarks @ (eigenvectors[:, top] / np.sqrt(eigenvalues[top]))  # F, (d, rank)
    return factor @ factor.T


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


def _greedy_pass(filters: np.ndarray, neighbours: np.ndarray) -> tuple[list[int], np.ndarray]:
    """The kept list of the greedy pass over ordered pairs, and which filters were marked."""
    marked = np.zeros(len(filters), dtype=bool)
    kept = []
    for i, nearest in zip(filters.tolist(), neighbours.tolist()):
        if not marked[i]:
            kept.append(i)
            marked[nearest] = True
    return kept, marked


def greedy_cosine_selection(distances, *, rule: str = "published") -> np.ndarray:
    """The filters the paper's greedy pass keeps as important.

    The pass walks the closest pairs ``(i, n(i))`` in the order of :func:`closest_pairs`
    (closest first, ties to the lower index). If ``i`` has not been marked redundant, it
    is kept and ``n(i)`` is marked redundant. The number of filters kept falls out of the
    pass; there is no ratio.

    Semantics of the kept list (``rule="published"``, the default): marking only stops a
    filter from being kept *later*. A filter kept earlier that a later pair marks stays in
    the kept list, exactly as in the published code. PAPER.md's example keeps
    ``[0, 2, 3]``: filter 2 is kept at pair (2, 1) and marked at pair (3, 2), and stays.

    ``rule="unmarked"`` is an alternative: keep only the filters that end the pass
    unmarked, so that no kept filter was declared redundant to another kept filter. It
    removes more filters (``[0, 3]`` in the example) and is not the published algorithm.

    Used by: Chapter 3.

    Parameters
    ----------
    distances : array_like, shape (d, d)
        Pairwise distances, as :func:`cosine_distances` returns them.
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
    kept, marked = _greedy_pass(*closest_pairs(distances)[:2])
    if rule == "unmarked":
        kept = [i for i in kept if not marked[i]]
    return np.sort(np.array(kept, dtype=np.int64))


def _cosine_order(distances: np.ndarray) -> np.ndarray:
    """Filters least important first, by repeated greedy passes.

    The filters the greedy pass drops come first, in :func:`closest_pairs` order (closest
    pair first); then the pass runs again on the filters it kept, and so on, until one
    filter is left. Each pass drops at least one filter (the second filter of the closest
    pair), so the loop ends.
    """
    remaining = np.arange(len(distances))
    order = []
    while len(remaining) > 1:
        filters, neighbours, _ = closest_pairs(distances[np.ix_(remaining, remaining)])
        kept, _ = _greedy_pass(filters, neighbours)
        order.append(remaining[filters[~np.isin(filters, kept)]])
        remaining = remaining[np.sort(kept)]
    return np.concatenate(order + [remaining])


def rank_filters(conv_weight, method: str, *, seed: int = 0, m: int | None = None,
                 k: int | None = None) -> np.ndarray:
    """The filters of a convolutional layer ordered by a pruning criterion, least important first.

    Pruning the first ``n`` filters of the order removes ``n`` filters by that criterion,
    which lets the criteria be compared at equal budgets. Ties are broken by the lower
    filter index throughout.

    - ``"cosine"``: the paper's criterion. The filters the greedy pass of
      :func:`greedy_cosine_selection` does not keep come first, in closest-pair order
      (the most redundant first), so removing exactly as many filters as the greedy pass
      drops removes exactly the greedy's filters. The kept filters follow, ordered by
      running the greedy pass again on them alone (and again on what that pass keeps, and
      so on): once its near-duplicate is gone, a kept filter is no longer redundant, so its
      closest-pair distance to a removed filter must not count. Removing fewer or more
      filters than the greedy pass extends the method to any ratio. Distances rounded to 5
      decimals.
    - ``"cosine-nystrom"``: the same with :func:`nystrom_similarity` (``m`` landmarks,
      default ``min(d, kh*kw)``, where it is exact for generic filters; rank ``k``,
      default ``m``).
    - ``"l1"``: smallest sum of absolute weights first (Li et al., 2017).
    - ``"geometric-median"``: FPGM (He et al., 2019): the smallest sum of Euclidean
      distances to all other filters first, i.e. the filters nearest the geometric median,
      which the others can best replace.
    - ``"random"``: a random permutation drawn with ``seed``.

    Used by: Chapter 3 (criteria at equal budgets), Chapter 4.

    Parameters
    ----------
    conv_weight : torch.Tensor or numpy.ndarray, shape (d, c_in, kh, kw)
        The weight of the layer.
    method : str
        One of :data:`RANKING_METHODS`.
    seed : int
        Seed of ``"random"``.
    m, k : int, optional
        Landmarks and rank of ``"cosine-nystrom"``; no other method takes them.

    Returns
    -------
    numpy.ndarray of int, shape (d,)
        A permutation of ``range(d)``, least important filter first.
    """
    if method not in RANKING_METHODS:
        raise ValueError(f"unknown ranking method {method!r}; choose one of {RANKING_METHODS}")
    if method != "cosine-nystrom" and (m is not None or k is not None):
        raise ValueError(f"m and k set the Nystrom approximation; method {method!r} takes neither")
    weight = _float64(_filters(conv_weight))
    d = len(weight)
    if method == "random":
        return np.random.default_rng(seed).permutation(d)
    if method == "l1":
        return np.argsort(np.abs(weight).reshape(d, -1).sum(axis=1), kind="stable")
    if method == "geometric-median":
        flat = weight.reshape(d, -1)
        return np.argsort(cdist(flat, flat).sum(axis=1), kind="stable")
    prototypes = filter_prototypes(weight)
    if method == "cosine":
        return _cosine_order(cosine_distances(prototypes))
    m = min(d, prototypes.shape[1]) if m is None else m
    similarity = nystrom_similarity(prototypes, m, m if k is None else k)
    return _cosine_order(similarity_to_distances(similarity))


def _kept_filters(name: str, conv: nn.Conv2d, spec) -> np.ndarray:
    """The sorted filter indices a plan entry keeps, checked against the layer."""
    d = conv.out_channels
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], str):
        ratio, method = spec
        if not 0 < ratio < 1:
            raise ValueError(f"plan for {name!r}: the ratio of filters to remove must lie in (0, 1), "
                             f"got {ratio}")
        n_removed = round(ratio * d)
        if n_removed == d:
            raise ValueError(f"plan for {name!r}: ratio {ratio} would remove all {d} filters")
        return np.sort(rank_filters(conv.weight, method)[n_removed:])
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

    Used by: Chapter 3 (surgery, pruned vs masked), Chapter 4 (fine-tuning).

    Parameters
    ----------
    model : nn.Sequential
        A flat chain of named layers, such as ``DCASE21Baseline`` and ``VGGishLike``. For
        other networks (branches, residual connections) use
        :class:`CosineSimilarityImportance` with Torch-Pruning.
    plan : mapping of str to list of int or (float, str)
        Conv layer name (as ``model.named_modules()`` gives it) to either the indices of
        the filters to keep (any order; the kept filters keep their original order), or a
        ``(ratio, method)`` pair removing ``round(ratio * d)`` filters ranked by
        :func:`rank_filters` with that method and its defaults.

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

    Used by: Chapter 3 (pruning a residual network).

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
        scores[_cosine_order(total / n_convs)] = torch.arange(n, dtype=torch.float32)
        return scores
