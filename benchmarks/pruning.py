"""Print the speed of the cosine filter selection: vectorised vs the plain loop, exact vs Nystrom.

Budgets (DESIGN.md, on 2 cores): the selection for all six VGGishLike conv layers under
50 ms, at least 300x faster than the loop implementation in the published code's style
(``audioprune_lite.pruning_reference``: one SVD per filter, SciPy's cosine distance per
pair), with the same kept filters; the Nystrom study up to d = 4096 filters within 2 GB.
The weights are the random initialisation of the networks (the selection's cost does not
depend on training). Run: ``python benchmarks/pruning.py`` (the loop takes a few seconds).
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time

import numpy as np
import torch
from torch import nn

from audioprune_lite.models import DCASE21Baseline, VGGishLike
from audioprune_lite.pruning import (
    cosine_distances,
    filter_prototypes,
    greedy_cosine_selection,
    nystrom_similarity,
    rank_filters,
)
from audioprune_lite.pruning_reference import reference_selection


def median_seconds(function, repeats: int) -> float:
    """Median wall time of ``function()`` over ``repeats`` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def vectorised_selection(weights):
    """The kept filters of every layer, by audioprune_lite.pruning."""
    return [greedy_cosine_selection(cosine_distances(filter_prototypes(w))) for w in weights]


def compare_with_loop(title: str, model: nn.Module, repeats: int = 20) -> None:
    """Print vectorised vs loop time, layer by layer and for all layers at once."""
    names, weights = zip(*[(name, layer.weight.detach()) for name, layer in model.named_children()
                           if isinstance(layer, nn.Conv2d)])
    print(f"\n{title}: cosine selection (prototypes, distances rounded to 5 decimals, greedy pass)")
    print(f"  {'layer':<7}{'filters':>16}{'vectorised ms':>15}{'loop ms':>11}{'speed-up':>10}"
          f"{'kept':>6}  same kept")
    loop_total = 0.0
    for name, weight in zip(names, weights):
        fast = median_seconds(lambda: vectorised_selection([weight]), repeats)
        start = time.perf_counter()
        loop_kept = reference_selection(weight)
        loop = time.perf_counter() - start
        loop_total += loop
        kept = vectorised_selection([weight])[0]
        same = kept.tolist() == sorted(loop_kept)
        print(f"  {name:<7}{str(tuple(weight.shape)):>16}{fast * 1e3:15.2f}{loop * 1e3:11.0f}"
              f"{loop / fast:9.0f}x{len(kept):6d}  {'yes' if same else 'NO'}")
    whole = median_seconds(lambda: vectorised_selection(weights), repeats)
    print(f"  {'all':<7}{'':>16}{whole * 1e3:15.2f}{loop_total * 1e3:11.0f}{loop_total / whole:9.0f}x"
          "        (all layers timed as one call)")


def nystrom_study(title: str, weight: torch.Tensor, landmarks, repeats: int) -> None:
    """Print exact vs Nystrom time for one layer: the similarity matrix alone and the whole ranking."""
    d, kernel = weight.shape[0], weight.shape[2] * weight.shape[3]
    prototypes = filter_prototypes(weight)
    exact_similarity = median_seconds(lambda: prototypes @ prototypes.T, repeats)
    exact_ranking = median_seconds(lambda: rank_filters(weight, "cosine"), repeats)
    exact_order = rank_filters(weight, "cosine")
    print(f"  {title:<8}{d:>6}{'exact':>7}{exact_similarity * 1e3:14.2f}{exact_ranking * 1e3:12.1f}"
          f"{1:10.2f}")
    for m in [m for m in landmarks if m <= d]:
        similarity = median_seconds(lambda: nystrom_similarity(prototypes, m, m), repeats)
        ranking = median_seconds(lambda: rank_filters(weight, "cosine-nystrom", m=m, k=m), repeats)
        same = np.array_equal(rank_filters(weight, "cosine-nystrom", m=m, k=m), exact_order)
        spans = "m >= kh*kw" if m >= kernel else "m < kh*kw"
        print(f"  {'':<8}{d:>6}{m:>7}{similarity * 1e3:14.2f}{ranking * 1e3:12.1f}"
              f"{ranking / exact_ranking:10.2f}  {'yes' if same else 'no '} ({spans})")


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, NumPy {np.__version__}, torch {torch.__version__}")
    torch.manual_seed(0)
    compare_with_loop("VGGishLike (55 M parameters, random initialisation)", VGGishLike())
    print("  budget: all six layers under 50 ms and at least 300x faster than the loop")
    compare_with_loop("DCASE21Baseline (random initialisation)", DCASE21Baseline())

    header = (f"  {'layer':<8}{'d':>6}{'m':>7}{'similarity ms':>14}{'ranking ms':>12}"
              f"{'/ exact':>10}  same ranking as exact")
    print("\nExact vs Nystrom (k = m landmarks; 'similarity' is S alone from the prototypes, "
          "'ranking' is rank_filters from the weights)")
    print(header)
    rng = np.random.default_rng(0)
    for d in (64, 256, 1024, 4096):
        weight = torch.from_numpy(rng.normal(size=(d, 16, 3, 3)).astype(np.float32))
        nystrom_study("3x3", weight, landmarks=(4, 9, 64, 512), repeats=3 if d > 1024 else 10)
    print(header)
    model = DCASE21Baseline()
    for name in ("conv1", "conv2", "conv3"):
        weight = getattr(model, name).weight.detach()
        nystrom_study(name, weight, landmarks=(4, weight.shape[0] // 2, weight.shape[0]), repeats=20)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of this run: {peak_mib:.0f} MiB (budget 2 GB)")


if __name__ == "__main__":
    main()
