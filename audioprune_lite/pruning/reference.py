"""The plain reference implementation of the cosine filter selection, one filter and one pair at a time.

It is written the way the published code is written: one singular value decomposition
per filter, SciPy's cosine distance for every pair of filters, Python loops for the nearest
filters and the greedy pass, with the two corrections that the book's page "The method
and the published figures" explains: a filter's nearest filter is never itself, and ties
go to the lower filter index. It is easy to check against the papers line by line and
slow on wide layers. The tests compare :mod:`audioprune_lite.pruning` with it,
``benchmarks/pruning.py`` times the two side by side, and Chapter 4 shows it next to the
vectorised version. It is not imported with :mod:`audioprune_lite.pruning`: import it
as ``audioprune_lite.pruning.reference``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import distance

__all__ = ["reference_distances", "reference_greedy", "reference_prototypes", "reference_selection"]


def reference_prototypes(conv_weight, *, full_matrices: bool = True) -> np.ndarray:
    """The unit rank-1 prototype of every filter, one SVD per filter.

    Filter ``i`` is viewed as a ``(kh*kw, c_in)`` matrix; the prototype is the first
    column of its rank-1 approximation ``u1 v1^T``, normalised, as in the published code.

    Used by: Chapter 3, :func:`reference_selection` and the tests.

    Parameters
    ----------
    conv_weight : torch.Tensor or numpy.ndarray, shape (d, c_in, kh, kw)
    full_matrices : bool
        True computes the SVD as the published code does (``numpy.linalg.svd``'s default),
        including the ``c_in x c_in`` matrix of right singular vectors, which is never
        used; False skips it and is many times faster on wide layers (the tests use it).

    Returns
    -------
    numpy.ndarray, float64, shape (d, kh*kw)
    """
    if isinstance(conv_weight, torch.Tensor):
        conv_weight = conv_weight.detach().cpu().numpy()
    weight = np.asarray(conv_weight, dtype=np.float64)
    prototypes = []
    for single_filter in weight:
        matrix = single_filter.reshape(len(single_filter), -1).T  # (kh*kw, c_in)
        u, _, vt = np.linalg.svd(matrix, full_matrices=full_matrices)
        rank1 = np.outer(u[:, 0], vt[0])
        prototypes.append(rank1[:, 0] / np.linalg.norm(rank1[:, 0]))
    return np.array(prototypes)


def reference_distances(prototypes, decimals: int | None = 5) -> np.ndarray:
    """The ``d x d`` cosine distances, SciPy's ``distance.cosine`` for every pair.

    Used by: :func:`reference_selection` and the tests.

    Parameters
    ----------
    prototypes : array_like, shape (d, kh*kw)
    decimals : int or None
        Rounding as in the ICASSP 2023 code (5), or None as in the Interspeech 2022 code.

    Returns
    -------
    numpy.ndarray, float64, shape (d, d)
    """
    d = len(prototypes)
    distances = np.zeros((d, d))
    for i in range(d):
        for j in range(d):
            distances[i, j] = distance.cosine(prototypes[i], prototypes[j])
    return distances if decimals is None else np.around(distances, decimals)


def reference_greedy(distances) -> list[int]:
    """The greedy pass over closest pairs, with plain loops.

    Each filter's nearest other filter (lower index on ties), the pairs sorted by distance
    (lower filter index on ties), then: keep a filter not yet marked redundant and mark its
    nearest filter redundant.

    Used by: :func:`reference_selection` and the tests.

    Parameters
    ----------
    distances : array_like, shape (d, d)

    Returns
    -------
    list of int
        The kept filters, in the order the pass kept them.
    """
    d = len(distances)
    nearest = [min((j for j in range(d) if j != i), key=lambda j: (distances[i][j], j))
               for i in range(d)]
    order = sorted(range(d), key=lambda i: (distances[i][nearest[i]], i))
    kept, redundant = [], []
    for i in order:
        if i not in redundant:
            kept.append(i)
            redundant.append(nearest[i])
    return kept


def reference_selection(conv_weight, decimals: int | None = 5, *,
                        full_matrices: bool = True) -> list[int]:
    """The filters the cosine method keeps, computed one filter and one pair at a time.

    Used by: Chapter 4, the tests and the benchmark.

    Parameters
    ----------
    conv_weight : torch.Tensor or numpy.ndarray, shape (d, c_in, kh, kw)
    decimals : int or None
        Rounding of the distances.
    full_matrices : bool
        Passed to :func:`reference_prototypes`: True as published, False faster.

    Returns
    -------
    list of int
        The kept filters, in the order the pass kept them.
    """
    prototypes = reference_prototypes(conv_weight, full_matrices=full_matrices)
    return reference_greedy(reference_distances(prototypes, decimals))
