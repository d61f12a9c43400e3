"""Tests of audioprune_lite.pruning: the selection against the plain loop implementation and
its invariants, the criteria and the plans, the surgery, and the Torch-Pruning importance."""

from __future__ import annotations

import copy
import importlib
import itertools
import math
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch_pruning as tp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

import audioprune_lite
from audioprune_lite import widgets
from audioprune_lite.extras import MissingExtraError
from audioprune_lite.metrics import count_params
from audioprune_lite.models import DCASE21Baseline, VGGishLike
from audioprune_lite.pruning import (
    CRITERIA,
    CosineSimilarityImportance,
    closest_pairs,
    cosine_distances,
    filter_prototypes,
    filters_to_keep,
    greedy_cosine_selection,
    greedy_steps,
    leading_eigenvectors,
    nystrom_similarity,
    prune_model,
    pruning_plans,
    rank_filters,
    similarity_to_distances,
)
from audioprune_lite.pruning.reference import (
    reference_distances,
    reference_greedy,
    reference_prototypes,
    reference_selection,
)

DCASE21_SHAPES = [(16, 1, 7, 7), (16, 16, 7, 7), (32, 16, 7, 7)]
VGGISH_SHAPES = [(64, 1, 3, 3), (128, 64, 3, 3), (256, 128, 3, 3), (256, 256, 3, 3),
                 (512, 256, 3, 3), (512, 512, 3, 3)]
SMALL_VGGISH_CHANNELS = (8, 16, 16, 16, 32, 32)

# The worked examples of the book's page "The method and the published figures": the kept
# list with a filter marked after it was kept, and two exact duplicates.
WORKED_EXAMPLE = [[0, .1, .5, .6], [.1, 0, .2, .7], [.5, .2, 0, .3], [.6, .7, .3, 0]]
DUPLICATES_EXAMPLE = [[0, 0, .4, .5], [0, 0, .4, .5], [.4, .4, 0, .2], [.5, .5, .2, 0]]

PROPERTY = settings(max_examples=60, deadline=None)


def random_weight(shape, seed):
    """Normally distributed float32 weights, as a layer of that shape might hold."""
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def with_duplicates(weight, seed):
    """``weight`` with exact copies: two disjoint pairs and one triple. Returns (weight, pairs)."""
    rng = np.random.default_rng(seed)
    a, b, c, e, f, g, h = rng.choice(len(weight), size=7, replace=False).tolist()
    weight = weight.copy()
    weight[b], weight[e] = weight[a], weight[c]
    weight[g] = weight[h] = weight[f]
    return weight, [tuple(sorted(pair)) for pair in ((a, b), (c, e))]


# --- the selection against the plain loop implementation ------------------------------------

@pytest.mark.parametrize("shape", DCASE21_SHAPES + VGGISH_SHAPES, ids=str)
def test_prototypes_agree_with_one_svd_per_filter(shape):
    weight = random_weight(shape, seed=sum(shape))
    prototypes = filter_prototypes(torch.from_numpy(weight))
    assert prototypes.shape == (shape[0], shape[2] * shape[3])
    np.testing.assert_allclose(prototypes, reference_prototypes(weight, full_matrices=False),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(prototypes, axis=1), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(4, 1, 3, 3), (4, 16, 3, 3), (4, 2, 3, 3)], ids=str)
def test_a_filter_of_zeros_has_no_prototype(shape):
    weight = random_weight(shape, seed=0)
    weight[2] = 0
    with pytest.raises(ValueError, match=r"filters \[2\] are all zeros"):
        filter_prototypes(weight)


def test_the_reference_as_published_and_with_a_thin_svd_agree():
    weight = random_weight((8, 32, 3, 3), seed=0)
    np.testing.assert_allclose(reference_prototypes(weight),
                               reference_prototypes(weight, full_matrices=False), atol=1e-12)


def test_a_first_layer_prototype_is_the_normalised_filter():
    weight = random_weight((5, 1, 3, 3), seed=0)
    flat = weight.reshape(5, 9).astype(np.float64)
    expected = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    np.testing.assert_allclose(filter_prototypes(weight), expected, atol=1e-12)


def gram_batch(eigenvalues, seed):
    """Symmetric matrices with the given eigenvalues (one row per matrix), random eigenvectors."""
    rng = np.random.default_rng(seed)
    eigenvalues = np.asarray(eigenvalues, dtype=float)
    bases = np.linalg.qr(rng.normal(size=eigenvalues.shape + eigenvalues.shape[-1:]))[0]
    return (bases * eigenvalues[:, None, :]) @ bases.transpose(0, 2, 1), bases


def same_up_to_sign(vectors, expected):
    signs = np.sign(np.einsum("nk,nk->n", vectors, expected))[:, None]
    return np.abs(vectors * signs - expected).max()


@pytest.mark.parametrize("size", [1, 4, 9, 16])
def test_leading_eigenvectors_equal_those_of_eigh(size):
    columns = np.random.default_rng(size).normal(size=(200, 64, size))
    grams = columns.transpose(0, 2, 1) @ columns
    vectors = leading_eigenvectors(grams)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=0, atol=1e-13)
    assert same_up_to_sign(vectors, np.linalg.eigh(grams)[1][:, :, -1]) < 1e-12


@pytest.mark.parametrize("ratio", [0.999, 0.9999999])
def test_a_nearly_repeated_top_eigenvalue_is_not_left_unconverged(ratio):
    # (l2/l1)^4096 is 0.017 or 1 - 4e-4 here: squaring alone has not separated u1 from u2.
    eigenvalues = np.tile([0.1, 0.2, 0.5, ratio, 1.0], (50, 1))
    grams, bases = gram_batch(eigenvalues, seed=1)
    # eigh itself is accurate to about 1e-16 / (1 - ratio)
    assert same_up_to_sign(leading_eigenvectors(grams), bases[:, :, -1]) < 1e-13 / (1 - ratio)


def test_the_convergence_check_catches_too_few_squarings():
    columns = np.random.default_rng(2).normal(size=(100, 32, 9))
    grams = columns.transpose(0, 2, 1) @ columns
    expected = np.linalg.eigh(grams)[1][:, :, -1]
    assert same_up_to_sign(leading_eigenvectors(grams, squarings=1), expected) < 1e-12


def test_a_repeated_top_eigenvalue_gives_a_vector_of_its_eigenspace():
    grams, bases = gram_batch(np.tile([0.2, 0.5, 1.0, 1.0], (20, 1)), seed=3)
    vectors = leading_eigenvectors(grams)
    np.testing.assert_allclose(np.einsum("nkl,nl->nk", grams, vectors), vectors, atol=1e-12)


@pytest.mark.parametrize("shape", DCASE21_SHAPES + VGGISH_SHAPES[:2], ids=str)
def test_distances_agree_with_scipy_cosine_per_pair(shape):
    prototypes = reference_prototypes(random_weight(shape, seed=1), full_matrices=False)
    unrounded = cosine_distances(prototypes, decimals=None)
    np.testing.assert_allclose(unrounded, reference_distances(prototypes, decimals=None),
                               rtol=0, atol=1e-12)
    rounded = cosine_distances(prototypes)
    assert np.array_equal(rounded, np.round(unrounded, 5))
    for distances in (unrounded, rounded):  # exactly symmetric, so mutual pairs tie
        assert np.array_equal(distances, distances.T) and not np.diag(distances).any()


@pytest.mark.parametrize("decimals", [5, None])
@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("shape", DCASE21_SHAPES, ids=str)
def test_selection_equals_the_loop_implementation_on_dcase21_layers(shape, seed, decimals):
    weight = random_weight(shape, seed)
    kept = greedy_cosine_selection(cosine_distances(filter_prototypes(weight), decimals=decimals))
    assert kept.tolist() == sorted(reference_selection(weight, decimals, full_matrices=False))


@pytest.mark.parametrize("shape", VGGISH_SHAPES, ids=str)
def test_selection_equals_the_loop_implementation_on_vggish_layers(shape):
    weight = random_weight(shape, seed=2)
    kept = greedy_cosine_selection(cosine_distances(filter_prototypes(weight)))
    assert kept.tolist() == sorted(reference_selection(weight, full_matrices=False))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", DCASE21_SHAPES + VGGISH_SHAPES[:2], ids=str)
def test_selection_with_exact_duplicates_equals_the_loop_implementation(shape, seed):
    weight, pairs = with_duplicates(random_weight(shape, seed), seed)
    kept = greedy_cosine_selection(cosine_distances(filter_prototypes(weight))).tolist()
    assert kept == sorted(reference_selection(weight, full_matrices=False))
    for lower, higher in pairs:  # a duplicated pair keeps its lower index only
        assert lower in kept and higher not in kept


def test_the_worked_example_of_the_method_page():
    filters, neighbours, distances = closest_pairs(WORKED_EXAMPLE)
    assert filters.tolist() == [0, 1, 2, 3]
    assert neighbours.tolist() == [1, 0, 1, 2]
    np.testing.assert_array_equal(distances, [.1, .1, .2, .3])
    assert greedy_cosine_selection(WORKED_EXAMPLE).tolist() == [0, 2, 3]
    assert reference_greedy(np.array(WORKED_EXAMPLE)) == [0, 2, 3]


def test_worked_example_with_exact_duplicates():
    filters, neighbours, _ = closest_pairs(DUPLICATES_EXAMPLE)
    assert filters.tolist() == [0, 1, 2, 3]
    assert neighbours.tolist() == [1, 0, 3, 2]  # itself excluded, although also at distance 0
    assert greedy_cosine_selection(DUPLICATES_EXAMPLE).tolist() == [0, 2]
    assert reference_greedy(np.array(DUPLICATES_EXAMPLE)) == [0, 2]


def test_unmarked_rule_drops_a_kept_filter_marked_later():
    assert greedy_cosine_selection(WORKED_EXAMPLE, rule="unmarked").tolist() == [0, 3]
    assert greedy_cosine_selection(DUPLICATES_EXAMPLE, rule="unmarked").tolist() == [0, 2]


def test_ties_are_broken_by_the_lower_index_whatever_the_labels():
    # Four filters, all at the same distance: every pair ties.
    distances = np.ones((4, 4)) - np.eye(4)
    filters, neighbours, _ = closest_pairs(distances)
    assert filters.tolist() == [0, 1, 2, 3] and neighbours.tolist() == [1, 0, 0, 0]
    assert greedy_cosine_selection(distances).tolist() == [0, 2, 3]
    assert reference_greedy(distances) == [0, 2, 3]


@pytest.mark.parametrize("bad", [np.zeros((3, 4)), np.zeros((1, 1)), np.zeros(4)])
def test_selection_rejects_a_matrix_that_is_not_square(bad):
    with pytest.raises(ValueError, match="square d x d"):
        greedy_cosine_selection(bad)


def test_selection_rejects_an_unknown_rule():
    with pytest.raises(ValueError, match="rule must be one of"):
        greedy_cosine_selection(WORKED_EXAMPLE, rule="strict")


# --- invariants of the greedy pass (Hypothesis) --------------------------------------------------

@st.composite
def distance_matrices(draw):
    """d x d distances, 2 <= d <= 10, symmetric or not, in eighths from 0 to 1/2: full of ties,
    and exact in float32 as in float64."""
    d = draw(st.integers(2, 10))
    matrix = draw(hnp.arrays(np.int8, (d, d), elements=st.integers(0, 4))) / 8
    if draw(st.booleans()):
        matrix = np.triu(matrix, 1) + np.triu(matrix, 1).T
    np.fill_diagonal(matrix, 0)
    return matrix


@st.composite
def layer_weights(draw):
    """float32 weights (d, c_in, kh, kw) of a small layer, often small integers, so that exact
    duplicates, opposite filters and tied distances are common. No filter is all zeros."""
    d, c_in = draw(st.integers(2, 9)), draw(st.integers(1, 3))
    kernel = draw(st.sampled_from([(1, 1), (1, 3), (2, 2), (3, 3)]))
    values = st.sampled_from([-2.0, -1.0, 0.0, 1.0, 2.0]) | st.floats(
        -2, 2, width=32, allow_subnormal=False)
    weight = draw(hnp.arrays(np.float32, (d, c_in, *kernel), elements=values))
    weight[~weight.reshape(d, -1).any(axis=1), 0, 0, 0] = 1.0
    return weight


@PROPERTY
@given(distance_matrices())
def test_the_greedy_pass_equals_the_loop_implementation_on_matrices_full_of_ties(distances):
    filters, neighbours, _ = closest_pairs(distances)
    kept_in_order = filters[greedy_steps(filters, neighbours)].tolist()
    assert kept_in_order == reference_greedy(distances)
    assert greedy_cosine_selection(distances).tolist() == sorted(kept_in_order)


@PROPERTY
@given(distance_matrices())
def test_every_dropped_filter_is_the_nearest_filter_of_a_filter_kept_before_it(distances):
    # What the pass guarantees: a filter is dropped only when an earlier pair (j, n(j)) kept j
    # and marked it, n(j) = i. With D symmetric, j is then as near to i as i's own nearest
    # filter: D[j, i] = D[j, n(j)] <= D[i, n(i)] <= D[i, j] = D[j, i].
    filters, neighbours, pair_distances = closest_pairs(distances)
    kept = set(greedy_cosine_selection(distances).tolist())
    step = {i: s for s, i in enumerate(filters.tolist())}
    marked_by = {}
    for j, nearest in zip(filters.tolist(), neighbours.tolist()):
        if j in kept:
            marked_by.setdefault(nearest, j)
    d = len(distances)
    for i in set(range(d)) - kept:
        j = marked_by[i]
        assert step[j] < step[i]
        if np.array_equal(distances, distances.T):
            assert distances[i, j] == pair_distances[step[i]]
    # each kept filter marks one filter: at most half are dropped; the first pair's
    # nearest filter always is
    assert math.ceil(d / 2) <= len(kept) <= d - 1
    assert filters[0] in kept and neighbours[0] not in kept
    unmarked = greedy_cosine_selection(distances, rule="unmarked").tolist()
    assert unmarked == sorted(kept - set(marked_by))


def stored_in_other_ways(weight):
    """The same float32 layer stored in other ways, by name."""
    padded = np.zeros((2 * len(weight), *weight.shape[1:]), dtype=np.float32)
    padded[::2] = weight
    as_tensor = torch.from_numpy(weight.copy())
    return {
        "a copy": weight.copy(),
        "float64 (exact)": weight.astype(np.float64),
        "Fortran order": np.asfortranarray(weight),
        "every other filter of a larger array": padded[::2],
        "a tensor": as_tensor,
        "a tensor, channels last": as_tensor.contiguous(memory_format=torch.channels_last),
        "a tensor, a permuted view": torch.from_numpy(
            np.ascontiguousarray(weight.transpose(1, 0, 2, 3))).permute(1, 0, 2, 3),
        "a parameter": nn.Parameter(as_tensor.clone()),
    }


@PROPERTY
@given(layer_weights(), st.integers(0, 3))
def test_the_result_does_not_depend_on_how_the_layer_is_stored(weight, seed):
    original = weight.copy()
    kept = greedy_cosine_selection(cosine_distances(filter_prototypes(weight)))
    orders = {method: rank_filters(weight, method, seed=seed) for method in CRITERIA}
    for name, stored in stored_in_other_ways(weight).items():
        assert np.array_equal(
            greedy_cosine_selection(cosine_distances(filter_prototypes(stored))), kept), name
        for method, order in orders.items():
            assert np.array_equal(rank_filters(stored, method, seed=seed), order), (name, method)
    assert np.array_equal(weight, original), "the layer was written to"


@PROPERTY
@given(distance_matrices())
def test_the_greedy_pass_does_not_depend_on_how_the_distances_are_stored(distances):
    kept = greedy_cosine_selection(distances)
    padded = np.zeros((2 * len(distances), 2 * len(distances)))
    padded[::2, ::2] = distances
    symmetric = np.array_equal(distances, distances.T)
    for stored in (distances.tolist(), distances.astype(np.float32), np.asfortranarray(distances),
                   padded[::2, ::2], torch.from_numpy(distances),
                   *([distances.T] if symmetric else [])):
        assert np.array_equal(greedy_cosine_selection(stored), kept)


@PROPERTY
@given(distance_matrices())
def test_the_explorer_replays_the_greedy_pass(distances):
    filters, neighbours, _ = closest_pairs(distances)
    states, events = widgets._greedy_states(filters, neighbours)
    kept_in_order = reference_greedy(distances)
    assert len(states) == len(events) + 1 == len(distances) + 1
    assert states[0][:2] == ([], {})
    for step, (kept, marked, event) in enumerate(states[1:], start=1):
        i, nearest = int(filters[step - 1]), int(neighbours[step - 1])
        before_kept, before_marked, _ = states[step - 1]
        assert kept == kept_in_order[:len(kept)]
        if i in before_marked:  # marked at an earlier step: skipped
            assert kept == before_kept and marked == before_marked
            assert event == f"filter {i} was marked redundant at step {before_marked[i]}: skip it"
        else:
            assert kept == before_kept + [i]
            assert marked == {nearest: step, **before_marked}
    assert states[-1][0] == kept_in_order
    explorer = widgets.greedy_pass_explorer(distances)
    final = explorer.children[1].children[-1].value
    expected = greedy_cosine_selection(distances).tolist()
    assert f"{len(expected)} of {len(distances)} filters kept, {expected};" in final


# --- the criteria ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", DCASE21_SHAPES + VGGISH_SHAPES[:3], ids=str)
def test_cosine_ranking_puts_exactly_the_greedy_drops_first_then_ranks_the_kept_alone(shape):
    weight = random_weight(shape, seed=3)
    distances = cosine_distances(filter_prototypes(weight))
    kept = greedy_cosine_selection(distances)
    order = rank_filters(torch.from_numpy(weight), "cosine")
    assert sorted(order.tolist()) == list(range(shape[0]))
    n_dropped = shape[0] - len(kept)
    filters, _, _ = closest_pairs(distances)
    assert order[:n_dropped].tolist() == [i for i in filters.tolist() if i not in kept]
    assert np.array_equal(order[n_dropped:], kept[rank_filters(weight[kept], "cosine")])


def test_cosine_ranking_keeps_the_twin_of_a_removed_duplicate():
    # Filters 0 and 1 are exact copies; 2, 3, 4 are orthogonal to them and to each other.
    # Pass 1 drops 1 only; ranking 0 by its distance to the removed 1 would remove it next
    # and lose both copies. Running the pass again on the kept filters drops 2, then 3, 4.
    weight = np.eye(4)[[0, 0, 1, 2, 3]].reshape(5, 1, 2, 2)
    assert greedy_cosine_selection(cosine_distances(filter_prototypes(weight))).tolist() == [0, 2, 3, 4]
    assert rank_filters(weight, "cosine").tolist() == [1, 2, 3, 4, 0]


def test_l1_ranking_orders_by_the_sum_of_absolute_weights():
    scale = np.array([3.0, 0.5, 2.0, 1.0])
    weight = np.ones((4, 2, 3, 3)) * scale[:, None, None, None]
    weight[2, 0, 0, 0] = -2.0  # the sign does not matter
    assert rank_filters(weight, "l1").tolist() == [1, 3, 2, 0]


def test_geometric_median_ranking_removes_the_most_central_filters_first():
    # Filters constant at 0, 1, 5, 6, 20: sums of distances to the others 32, 29, 25, 26, 68.
    weight = np.array([0, 1, 5, 6, 20], dtype=float)[:, None, None, None] * np.ones((5, 2, 3, 3))
    assert rank_filters(weight, "geometric-median").tolist() == [2, 3, 1, 0, 4]


def test_random_ranking_is_a_seeded_permutation():
    weight = random_weight((32, 4, 3, 3), seed=0)
    first = rank_filters(weight, "random", seed=7)
    assert sorted(first.tolist()) == list(range(32))
    assert np.array_equal(first, rank_filters(weight, "random", seed=7))
    assert not np.array_equal(first, rank_filters(weight, "random", seed=8))


@pytest.mark.parametrize("shape,m", [((64, 16, 3, 3), 9), ((64, 16, 3, 3), 20),
                                     ((64, 16, 3, 3), 64), ((128, 64, 3, 3), None),
                                     ((32, 16, 7, 7), 32), ((16, 1, 7, 7), None)], ids=str)
def test_nystrom_equals_exact_when_the_landmarks_span_the_prototypes(shape, m):
    weight = random_weight(shape, seed=4)
    prototypes = filter_prototypes(weight)
    landmarks = min(shape[0], 9 if shape[2] == 3 else 49) if m is None else m
    np.testing.assert_allclose(nystrom_similarity(prototypes, landmarks, landmarks),
                               prototypes @ prototypes.T, rtol=0, atol=1e-9)
    assert np.array_equal(rank_filters(weight, "cosine-nystrom", m=m), rank_filters(weight, "cosine"))


def test_nystrom_with_fewer_landmarks_than_the_prototype_length_is_an_approximation():
    prototypes = filter_prototypes(random_weight((64, 16, 3, 3), seed=5))
    approximate = nystrom_similarity(prototypes, m=4, k=4)
    assert np.array_equal(approximate, approximate.T)
    distances = similarity_to_distances(approximate)  # 1 - S to 5 decimals, a zero diagonal
    off_diagonal = ~np.eye(64, dtype=bool)
    assert np.abs(distances - (1 - approximate))[off_diagonal].max() <= 5e-6
    assert np.abs(distances * 1e5 - np.round(distances * 1e5)).max() < 1e-6  # 5 decimals
    assert not np.diag(distances).any()
    assert np.linalg.matrix_rank(approximate) == 4
    assert np.linalg.matrix_rank(nystrom_similarity(prototypes, m=8, k=3)) == 3
    assert np.abs(approximate - prototypes @ prototypes.T).max() > 0.1


@pytest.mark.parametrize("call,match", [
    (lambda w: rank_filters(w, "l2"), "unknown ranking method"),
    (lambda w: rank_filters(w, "l1", m=4), "'l1' takes no option m"),
    (lambda w: rank_filters(w, "random", k=2), "'random' takes no option k"),
    (lambda w: rank_filters(w, "cosine-nystrom", m=4, k=5), "1 <= k <= m <= d"),
    (lambda w: rank_filters(w, "cosine-nystrom", m=17), "1 <= k <= m <= d"),
    (lambda w: rank_filters(w.reshape(16, -1), "cosine"), r"shape \(d, c_in, kh, kw\)"),
])
def test_bad_ranking_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call(random_weight((16, 2, 3, 3), seed=0))


# --- the plans -----------------------------------------------------------------------------------

def test_plans_keep_the_greedy_counts_in_every_layer():
    model = dcase21_with_random_statistics(seed=3)
    plans = pruning_plans(model)
    assert list(plans) == ["cosine", "l1"] and list(plans["l1"]) == DCASE21_CONVS
    for name in DCASE21_CONVS:
        weight = getattr(model, name).weight
        kept = sorted(reference_selection(weight, full_matrices=False))  # one filter at a time
        assert plans["cosine"][name].tolist() == kept
        assert len(plans["l1"][name]) == len(kept) < len(weight)
        norms = weight.detach().abs().sum(dim=(1, 2, 3)).numpy()
        dropped = np.setdiff1d(np.arange(len(weight)), plans["l1"][name])
        assert norms[plans["l1"][name]].min() >= norms[dropped].max()
    assert (prune_model(model, plans["cosine"]).config["channels"]
            == prune_model(model, plans["l1"]).config["channels"])


def test_plans_carry_a_seed_to_the_seed_dependent_criteria():
    model = dcase21_with_random_statistics(seed=3)
    plans = {seed: pruning_plans(model, ["conv3"], methods=["random", "l1"], ratio=0.5, seed=seed)
             for seed in (1, 2)}
    again = pruning_plans(model, ["conv3"], methods=["random"], ratio=0.5, seed=1)
    assert np.array_equal(plans[1]["random"]["conv3"], again["random"]["conv3"])
    assert not np.array_equal(plans[1]["random"]["conv3"], plans[2]["random"]["conv3"])
    assert np.array_equal(plans[1]["l1"]["conv3"], plans[2]["l1"]["conv3"])
    ranking = rank_filters(model.conv3.weight, "random", seed=2)
    assert plans[2]["random"]["conv3"].tolist() == sorted(ranking[16:].tolist())
    greedy = pruning_plans(model, methods=["cosine", "random"], seed=2)
    assert [len(k) for k in greedy["random"].values()] == [len(k) for k in greedy["cosine"].values()]


@pytest.mark.parametrize("call,match", [
    (lambda m: pruning_plans(m, methods=["cosine", "l2"]), r"unknown ranking methods \['l2'\]"),
    (lambda m: pruning_plans(m, ["conv1", "conv9"]), r"\['conv9'\] are not convolutions.*conv1, conv2, conv3"),
    (lambda m: pruning_plans(m, ["bn1"]), r"\['bn1'\] are not convolutions"),
    (lambda m: pruning_plans(m, ratio=1.5), r"must lie in \(0, 1\), got 1.5"),
])
def test_bad_plans_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call(DCASE21Baseline())


# --- the surgery ---------------------------------------------------------------------------------

def dcase21_with_random_statistics(seed=0):
    """A DCASE21Baseline whose batch norms and input statistics are not the identity, in eval mode."""
    torch.manual_seed(seed)
    model = DCASE21Baseline()
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.BatchNorm2d):
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.uniform_(-0.5, 0.5)
                layer.running_mean.uniform_(-0.5, 0.5)
                layer.running_var.uniform_(0.5, 2.0)
        model.input_mean.uniform_(-1, 1)
        model.input_std.uniform_(0.5, 2)
    return model.eval()


def random_plan(model, names, seed):
    """Random non-empty proper subsets of the filters of the named convolutions."""
    rng = np.random.default_rng(seed)
    plan = {}
    for name in names:
        d = getattr(model, name).out_channels
        plan[name] = rng.choice(d, size=rng.integers(1, d), replace=False).tolist()
    return plan


def silenced(model, plan):
    """A copy of ``model`` whose removed channels output zero: their BatchNorm (or, without one,
    their filter and bias) set to zero."""
    model = copy.deepcopy(model)
    with torch.no_grad():
        for name, keep in plan.items():
            removed = sorted(set(range(getattr(model, name).out_channels)) - set(keep))
            batch_norm = getattr(model, name.replace("conv", "bn"), None)
            silencer = getattr(model, name) if batch_norm is None else batch_norm
            silencer.weight[removed] = 0
            silencer.bias[removed] = 0
    return model


DCASE21_CONVS = ["conv1", "conv2", "conv3"]


@pytest.mark.parametrize("names", [names for n in range(1, 4)
                                   for names in itertools.combinations(DCASE21_CONVS, n)], ids=str)
def test_pruned_dcase21_computes_what_the_silenced_network_computes(names):
    model = dcase21_with_random_statistics()
    plan = random_plan(model, names, seed=len(names))
    pruned = prune_model(model, plan)
    x = torch.randn(3, 1, 40, 60)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), silenced(model, plan)(x), rtol=1e-5, atol=1e-5)
    for name in DCASE21_CONVS:
        expected = len(plan[name]) if name in plan else getattr(model, name).out_channels
        assert getattr(pruned, name).out_channels == expected


@pytest.mark.parametrize("names", [(f"conv{i}",) for i in range(1, 7)]
                         + [("conv1", "conv2"), ("conv4", "conv6"),
                            tuple(f"conv{i}" for i in range(1, 7))], ids=str)
def test_pruned_vggish_computes_what_the_silenced_network_computes(names):
    torch.manual_seed(0)
    model = VGGishLike(channels=SMALL_VGGISH_CHANNELS).eval()
    plan = random_plan(model, names, seed=len(names))
    pruned = prune_model(model, plan)
    x = torch.randn(2, 1, 96, 64)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), silenced(model, plan)(x), rtol=1e-5, atol=1e-5)
    rebuilt = VGGishLike(**pruned.config)
    rebuilt.load_state_dict(pruned.state_dict())


def test_pruning_keeps_the_chosen_filters_in_their_original_order():
    model = dcase21_with_random_statistics()
    pruned = prune_model(model, {"conv2": [9, 2, 4]})
    assert torch.equal(pruned.conv2.weight, model.conv2.weight[[2, 4, 9]])
    assert torch.equal(pruned.bn2.running_var, model.bn2.running_var[[2, 4, 9]])
    assert torch.equal(pruned.conv3.weight, model.conv3.weight[:, [2, 4, 9]])


def test_pruned_config_rebuilds_the_architecture_and_the_original_is_untouched():
    model = dcase21_with_random_statistics()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    pruned = prune_model(model, {"conv1": (0.25, "cosine"), "conv3": (0.5, "l1")})
    assert pruned.config["channels"] == (12, 16, 16)
    assert model.config["channels"] == (16, 16, 32)
    assert model.conv1.out_channels == 16 and model.dense.in_features == 64
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())
    rebuilt = DCASE21Baseline(**pruned.config)
    rebuilt.load_state_dict(pruned.state_dict())
    assert torch.equal(rebuilt.input_std, model.input_std)


@pytest.mark.parametrize("method", ["cosine", "l1", "geometric-median", "random"])
def test_a_ratio_removes_the_first_filters_of_the_ranking(method):
    model = dcase21_with_random_statistics()
    pruned = prune_model(model, {"conv3": (0.3, method)})  # round(0.3 * 32) = 10 removed
    keep = np.sort(rank_filters(model.conv3.weight, method)[10:])
    assert torch.equal(pruned.conv3.weight, model.conv3.weight[keep])


@pytest.mark.parametrize("method", list(CRITERIA))
def test_without_a_ratio_each_criterion_removes_the_greedy_count_and_cosine_its_filters(method):
    weight = dcase21_with_random_statistics(seed=1).conv2.weight
    kept = greedy_cosine_selection(cosine_distances(filter_prototypes(weight)))
    ours = filters_to_keep(weight, method, seed=3)
    assert len(ours) == len(kept) and np.array_equal(ours, np.sort(ours))
    expected = rank_filters(weight, method, seed=3)[16 - len(kept):]
    assert np.array_equal(ours, kept if method == "cosine" else np.sort(expected))


@pytest.mark.parametrize("plan,match", [
    ({"conv1": (0.0, "cosine")}, r"'conv1'.*must lie in \(0, 1\)"),
    ({"conv1": (1.0, "cosine")}, r"'conv1'.*must lie in \(0, 1\)"),
    ({"conv2": (-0.25, "l1")}, r"'conv2'.*must lie in \(0, 1\)"),
    ({"conv1": (0.99, "l1")}, "would remove all 16 filters"),
    ({"conv1": (0.5, "magic")}, "unknown ranking method 'magic'"),
    ({"conv1": [0, 16]}, r"'conv1'.*out of range.*16 filters"),
    ({"conv3": [-1, 3]}, r"'conv3'.*out of range"),
    ({"conv2": [1, 1, 2]}, r"'conv2'.*duplicate"),
    ({"conv2": []}, r"'conv2'.*non-empty"),
    ({"conv2": [0.0, 1.0]}, r"'conv2'.*integers"),
    ({"conv4": [0]}, "'conv4', which is not a layer of this DCASE21Baseline"),
    ({"0.conv1": [0]}, "'0.conv1', which is not a layer"),
    ({"bn1": [0]}, "'bn1', a BatchNorm2d"),
    ({"dense": [0]}, "'dense', a Linear"),
])
def test_bad_plans_are_refused_with_the_reason(plan, match):
    with pytest.raises(ValueError, match=match):
        prune_model(DCASE21Baseline(), plan)


@pytest.mark.parametrize("layers,match", [
    ([("conv", nn.Conv2d(1, 4, 3)), ("norm", nn.GroupNorm(2, 4)), ("conv2", nn.Conv2d(4, 4, 3))],
     r"followed by 'norm' \(GroupNorm\), which the surgery cannot rewire"),
    ([("conv", nn.Conv2d(1, 4, 3)), ("grouped", nn.Conv2d(4, 4, 3, groups=2))],
     r"followed by 'grouped' \(Conv2d\)"),
    ([("conv", nn.Conv2d(1, 4, 3)), ("relu", nn.ReLU())], "no later layer takes its channels"),
    ([("conv", nn.Conv2d(1, 4, 3)), ("flatten", nn.Flatten()), ("norm", nn.BatchNorm1d(4))],
     r"after its Flatten comes 'norm' \(BatchNorm1d\)"),
    ([("conv", nn.Conv2d(1, 4, 3)), ("flatten", nn.Flatten()), ("dense", nn.Linear(10, 2))],
     "not a Linear layer taking 4 channels"),
    ([("conv", nn.Conv2d(1, 4, 3)), ("flatten", nn.Flatten())], "no Linear layer after its Flatten"),
])
def test_a_layer_pattern_the_surgery_does_not_understand_is_refused(layers, match):
    with pytest.raises(ValueError, match=f"cannot prune 'conv'.*{match}"):
        prune_model(nn.Sequential(OrderedDict(layers)), {"conv": [0, 1]})


def test_a_network_that_is_not_a_flat_chain_is_refused():
    with pytest.raises(TypeError, match="flat nn.Sequential.*Torch-Pruning"):
        prune_model(ResidualNet(), {"stem": [0]})


# --- Torch-Pruning -------------------------------------------------------------------------------

class ResidualNet(nn.Module):
    """A stem, a residual block of two conv-bn(-relu) layers with a skip addition, a plain head conv."""

    def __init__(self):
        super().__init__()
        self.stem, self.bn0 = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.conv_a, self.bn_a = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.conv_b, self.bn_b = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.head, self.bn_head = nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.bn0(self.stem(x)))
        y = torch.relu(self.bn_a(self.conv_a(x)))
        x = torch.relu(self.bn_b(self.conv_b(y)) + x)
        x = torch.relu(self.bn_head(self.head(x)))
        return self.fc(x.mean(dim=(2, 3)))


def kept_channels(pruned_conv, original_conv):
    """Which filters of ``original_conv`` survive in ``pruned_conv``, identified by their biases."""
    biases = original_conv.bias.tolist()
    return sorted(biases.index(b) for b in pruned_conv.bias.tolist())


def test_cosine_importance_prunes_a_residual_network_through_torch_pruning():
    torch.manual_seed(0)
    model = ResidualNet().eval()
    with torch.no_grad():  # channel 5 duplicates channel 2 in both layers feeding the addition
        model.stem.weight[5] = model.stem.weight[2]
        model.conv_b.weight[5] = model.conv_b.weight[2]
    original = copy.deepcopy(model)
    example = torch.randn(2, 1, 12, 12)
    pruner = tp.pruner.MetaPruner(model, example, importance=CosineSimilarityImportance(),
                                  pruning_ratio=0.5, ignored_layers=[model.fc])
    pruner.step()

    assert model(example).shape == (2, 10)
    assert count_params(model) < count_params(original)
    assert [model.stem.out_channels, model.conv_a.out_channels, model.head.out_channels] == [4, 4, 8]
    # Plain layers: the same filters as rank_filters' cosine order.
    for name in ("conv_a", "head"):
        conv = getattr(original, name)
        expected = sorted(rank_filters(conv.weight, "cosine")[conv.out_channels // 2:].tolist())
        assert kept_channels(getattr(model, name), conv) == expected
    # The coupled group drops the duplicate and keeps its lower-index twin.
    assert kept_channels(model.stem, original.stem) == kept_channels(model.conv_b, original.conv_b)
    assert 2 in kept_channels(model.stem, original.stem)
    assert 5 not in kept_channels(model.stem, original.stem)


def test_cosine_importance_scores_are_ranks_with_the_duplicate_lowest():
    torch.manual_seed(1)
    model = ResidualNet()
    with torch.no_grad():
        model.stem.weight[6] = model.stem.weight[3]
        model.conv_b.weight[6] = model.conv_b.weight[3]
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=torch.randn(1, 1, 12, 12))
    group = graph.get_pruning_group(model.stem, tp.prune_conv_out_channels, idxs=list(range(8)))
    scores = CosineSimilarityImportance()(group)
    assert sorted(scores.tolist()) == list(range(8))
    assert scores.argmin().item() == 6


def test_cosine_importance_averages_the_distances_of_coupled_convolutions():
    # The stem's filters are orthonormal, so all its distances are 1: averaged with the
    # distances of conv_b, they leave conv_b's own cosine order unchanged.
    torch.manual_seed(2)
    model = ResidualNet()
    with torch.no_grad():
        model.stem.weight.copy_(torch.eye(9)[:8].reshape(8, 1, 3, 3))
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=torch.randn(1, 1, 12, 12))
    group = graph.get_pruning_group(model.stem, tp.prune_conv_out_channels, idxs=list(range(8)))
    scores = CosineSimilarityImportance()(group)
    assert torch.argsort(scores).tolist() == rank_filters(model.conv_b.weight, "cosine").tolist()


def test_torch_pruning_and_prune_model_give_the_same_network():
    model = dcase21_with_random_statistics(seed=2)
    ours = prune_model(model, {name: (0.3125, "cosine") for name in DCASE21_CONVS})
    theirs = copy.deepcopy(model)
    x = torch.randn(2, 1, 40, 60)
    tp.pruner.MetaPruner(theirs, x, importance=CosineSimilarityImportance(), pruning_ratio=0.3125,
                         ignored_layers=[theirs.dense, theirs.output]).step()
    assert [theirs.conv1.out_channels, theirs.conv2.out_channels, theirs.conv3.out_channels] \
        == list(ours.config["channels"]) == [11, 11, 22]
    with torch.no_grad():
        torch.testing.assert_close(theirs(x), ours(x))


# --- without Torch-Pruning -----------------------------------------------------------------------

def test_without_torch_pruning_the_package_imports_and_the_adapter_says_what_to_install(monkeypatch):
    imported = audioprune_lite.pruning
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # `import torch_pruning` now fails
    monkeypatch.setattr(audioprune_lite, "pruning", imported)  # restored afterwards
    for name in [name for name in sys.modules if name.startswith("audioprune_lite.pruning")]:
        monkeypatch.delitem(sys.modules, name)
    package = importlib.import_module("audioprune_lite.pruning")  # a fresh import
    assert package is not imported
    model = DCASE21Baseline()
    pruned = package.prune_model(model, package.pruning_plans(model, ["conv3"])["cosine"])
    assert pruned.config["channels"][:2] == (16, 16)
    for load in (lambda: package.CosineSimilarityImportance,
                 lambda: importlib.import_module("audioprune_lite.pruning.torch_pruning_adapter")):
        with pytest.raises(MissingExtraError) as error:
            load()
        assert str(error.value) == "torch_pruning is not installed: pip install 'audioprune_lite[book]'"
    assert isinstance(error.value, ImportError)
