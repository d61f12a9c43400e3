"""What the criteria measure: filter prototypes, their distances, and the other criteria's scores.

The cosine criterion of Singh and Plumbley (Interspeech 2022, ICASSP 2023) looks at the
weights only, never at data. For one convolutional layer:

1. :func:`filter_prototypes` -- every filter becomes a unit vector of length ``kh*kw``, the
   left singular vector of its rank-1 approximation (found by
   :func:`leading_eigenvectors` for the whole layer at once);
2. :func:`cosine_distances` -- the ``d x d`` matrix of cosine distances between the
   prototypes, or :func:`nystrom_similarity`, the ICASSP 2023 approximation of the
   similarities, turned into distances by :func:`similarity_to_distances`.

The other criteria the book compares score each filter directly: :func:`l1_norms`
(Li et al., 2017) and :func:`distance_sums` (FPGM, He et al., 2019). What is done with
these numbers, the greedy pass and the rankings, is :mod:`audioprune_lite.pruning.selection`.

Everything is computed in float64 and for all filters of a layer at once; the plain
one-filter-at-a-time version that the tests compare against is
:mod:`audioprune_lite.pruning.reference`.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.distance import cdist

__all__ = [
    "cosine_distances",
    "distance_sums",
    "filter_prototypes",
    "l1_norms",
    "leading_eigenvectors",
    "nystrom_similarity",
    "similarity_to_distances",
]


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
    :func:`audioprune_lite.pruning.reference.reference_prototypes` to about 1e-12.
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

    Used by: Chapter 4 (through :func:`filter_prototypes`; how the prototypes are computed fast).

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

    Used by: Chapter 4 (the Nystrom tables).

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
    ``d * d * kh*kw`` multiply-adds; Chapter 4 measures this. Turn ``S`` into distances
    with :func:`similarity_to_distances`.

    Used by: Chapter 4 (the Nystrom timing study).

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



def l1_norms(conv_weight) -> np.ndarray:
    """The l1 norm of every filter: the sum of its absolute weights (Li et al., 2017).

    The l1 criterion removes the filters of smallest norm first.

    Parameters
    ----------
    conv_weight : torch.Tensor or numpy.ndarray, shape (d, c_in, kh, kw)
        The weight of the layer.

    Returns
    -------
    numpy.ndarray, float64, shape (d,)
        Entry ``i`` is the sum of ``|w|`` over the ``c_in * kh * kw`` weights of filter ``i``.
    """
    filters = _float64(_filters(conv_weight))
    return np.abs(filters).reshape(len(filters), -1).sum(axis=1)


def distance_sums(conv_weight) -> np.ndarray:
    """Every filter's sum of Euclidean distances to the layer's filters (FPGM, He et al., 2019).

    The filter with the smallest sum is the one nearest the geometric median of the
    layer's filters, the one the others can best replace; the geometric-median criterion
    removes the smallest sums first.

    Parameters
    ----------
    conv_weight : torch.Tensor or numpy.ndarray, shape (d, c_in, kh, kw)
        The weight of the layer.

    Returns
    -------
    numpy.ndarray, float64, shape (d,)
        Entry ``i`` is ``sum_j ||w_i - w_j||``, the filters flattened to vectors.
    """
    filters = _float64(_filters(conv_weight))
    flat = filters.reshape(len(filters), -1)
    return cdist(flat, flat).sum(axis=1)
