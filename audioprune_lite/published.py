"""The published figures the book measures itself against, each with its source.

Every number that the book or the package quotes from Singh and Plumbley's two papers,
and from the DCASE 2021 Task 1A baseline they start from, is defined here once;
:data:`SOURCES` says where each one was published (:func:`cite` writes it out). The
papers show their results in figures: the exact values are those the authors' own
plotting and training scripts type, in their repositories on GitHub
(``Arshdeep-Singh-Boparai/passive-filter-pruning-Interspeech22`` and
``Arshdeep-Singh-Boparai/Efficient_similarity_Pruning_Algo``), rounded to two decimals.
Nothing here is measured by this package; the book's page "The method and the published
figures" shows every table, as below.

Used by: Chapters 2, 3 and 5, and :func:`audioprune_lite.reproduce.beside_paper`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

__all__ = [
    "CHALLENGE_BASELINES",
    "CLASS_ACCURACY",
    "FEWER_EXAMPLES_ACCURACY",
    "FEWER_EXAMPLES_MINUTES",
    "FINE_TUNING",
    "HEADLINE",
    "KEPT_FILTERS",
    "PRUNING_TABLE",
    "PRUNING_TIMES_S",
    "PUBLICATIONS",
    "SOURCES",
    "UNPRUNED",
    "Source",
    "cite",
]

PUBLICATIONS = {
    "interspeech2022": (
        'A. Singh and M. D. Plumbley, "A passive similarity based CNN filter pruning for '
        'efficient acoustic scene classification", Proc. Interspeech 2022, pp. 2433-2437; '
        "code: github.com/Arshdeep-Singh-Boparai/passive-filter-pruning-Interspeech22"),
    "icassp2023": (
        'A. Singh and M. D. Plumbley, "Efficient similarity-based passive filter pruning for '
        'compressing CNNs", Proc. IEEE ICASSP 2023; '
        "code: github.com/Arshdeep-Singh-Boparai/Efficient_similarity_Pruning_Algo"),
    "dcase2021": (
        "DCASE 2021 Challenge, Task 1A baseline system (I. Martin-Morato, T. Heittola, "
        "A. Mesaros and T. Virtanen, DCASE 2021 Workshop, pp. 85-89); "
        "code and results: github.com/marmoi/dcase2021_task1a_baseline"),
    "dcase2022": (
        "I. Martin-Morato, F. Paissan, A. Ancilotto, T. Heittola, A. Mesaros, E. Farella, "
        'A. Brutti and T. Virtanen, "Low-complexity acoustic scene classification in DCASE '
        '2022 Challenge", arXiv:2206.03835 (2022)'),
    "dcase2024": (
        "DCASE 2024 Challenge, Task 1 baseline system (F. Schmid, P. Primus, T. Heittola, "
        "A. Mesaros, I. Martin-Morato, K. Koutini and G. Widmer, arXiv:2405.10018); "
        "code: github.com/CPJKU/dcase2024_task1_baseline"),
}
"""The publications the figures come from, by key."""


@dataclass(frozen=True)
class Source:
    """Where one published figure or table comes from.

    Attributes
    ----------
    title : str
        What the figure is, in a few words.
    publication : str
        A key of :data:`PUBLICATIONS`.
    where : str
        The place in the publication, and the authors' script that holds the values.
    """

    title: str
    publication: str
    where: str

    def __str__(self) -> str:
        return f"{PUBLICATIONS[self.publication]}. {self.where}"


UNPRUNED = pd.DataFrame(
    {"data": ["TAU Urban Acoustic Scenes 2020 Mobile", "DCASE 2018 Task 1A"],
     "accuracy %": [48.58, 64.69], "log loss": [1.425, math.nan]},
    index=pd.Index(["DCASE 2021 baseline", "VGGish"], name="network"))
"""The papers' unpruned networks: accuracy (%) and log loss on the evaluation split.

Both papers prune the same trained DCASE 2021 baseline (48.58 %, a little above the
official 47.7 % of :data:`CLASS_ACCURACY`'s source); the ICASSP 2023 paper also prunes
a VGGish network. This book's versions are
:class:`audioprune_lite.models.DCASE21Baseline` and
:class:`audioprune_lite.models.VGGishLike`."""

PRUNING_TABLE = pd.DataFrame(
    [("none", 46_246, UNPRUNED.loc["DCASE 2021 baseline", "accuracy %"], math.nan,
      math.nan, math.nan, UNPRUNED.loc["DCASE 2021 baseline", "accuracy %"]),
     ("C1", 42_056, 48.06, 0.37, 47.98, 0.40, 34.53),
     ("C2", 34_461, 46.54, 0.67, 45.52, 0.49, 27.16),
     ("C3", 36_356, 46.67, 0.67, 46.12, 0.30, 18.29),
     ("C1+C2", 31_496, 46.41, 0.40, 44.86, 0.44, 24.09),
     ("C2+C3", 27_021, 44.96, 0.35, 43.76, 0.34, 15.02),
     ("C1+C2+C3", 24_056, 44.32, 0.13, 42.98, 0.54, 16.24)],
    columns=["pruned", "params (Keras count)", "cosine acc %", "cosine std", "l1 acc %",
             "l1 std", "cosine acc % before fine-tuning"],
).set_index("pruned")
"""The pruning results on the DCASE 2021 baseline (TAU 2020 Mobile), one row per pruned layer set.

Rows ``C1``, ``C2``, ``C3`` and their combinations name the pruned convolutions
(``conv1``, ``conv2``, ``conv3`` here), each pruned to the filters the greedy pass keeps
(:data:`KEPT_FILTERS`). Columns: the parameters as Keras counts them (with batch
normalisation's running statistics, :func:`audioprune_lite.metrics.count_params_keras`);
accuracy (%) after 30 epochs of fine-tuning, mean and standard deviation over runs, for
the cosine criterion and for the l1 norm pruning as many filters; and the cosine-pruned
network's accuracy before fine-tuning. Row ``none`` is the unpruned network.

Two things in the authors' scripts are read here as follows. Their bar chart of cosine
against l1 orders the bars by parameter count (C1, C3, C2, ...), so its second bar, l1
46.12 +- 0.30, belongs to C3 and its third, 45.52 +- 0.49, to C2 (the cosine values
46.67 and 46.54 are placed the same way by their other figure). And the scripts type
36,256 parameters for C3, where 16, 16 and 22 filters give 36,356 in Keras' count."""

KEPT_FILTERS = {"conv1": (11, 16), "conv2": (11, 16), "conv3": (22, 32)}
"""Filters the greedy pass kept on the trained DCASE 2021 baseline: layer to (kept, filters)."""

FEWER_EXAMPLES_ACCURACY = pd.DataFrame(
    [[44.32, 44.21, 43.27, 41.78, 38.46, 16.23],
     [42.98, 43.07, 41.95, 40.42, 36.83, 9.67],
     [44.45, 43.97, 41.95, 39.90, 35.00, 10.00]],
    index=pd.Index(["cosine", "l1", "random"], name="start"),
    columns=pd.Index([100, 75, 50, 25, 10, 0], name="% of the training data"))
"""Accuracy (%) of the C1+C2+C3 pruned network fine-tuned for 30 epochs on a share of the data.

Rows are the starting points of fine-tuning, as
:data:`audioprune_lite.fewer_examples.STARTS` names them: the cosine-pruned weights, the
l1-pruned weights and random initialisation; 0 % is no fine-tuning at all."""

FEWER_EXAMPLES_MINUTES = pd.Series(
    [200, 150, 90, 34, 17, 0], name="fine-tuning time (min)",
    index=pd.Index([100, 75, 50, 25, 10, 0], name="% of the training data"))
"""Minutes of fine-tuning (30 epochs, the authors' machine) against the share of the data used."""

PRUNING_TIMES_S = pd.DataFrame(
    [("DCASE 2021 baseline", "C1", 0.0088, 0.0018), ("DCASE 2021 baseline", "C2", 0.0104, 0.0028),
     ("DCASE 2021 baseline", "C3", 0.0434, 0.0061),
     ("VGGish", "C1", 0.15, 0.00471), ("VGGish", "C2", 0.80, 0.13), ("VGGish", "C3", 2.70, 0.40),
     ("VGGish", "C4", 3.51, 1.23), ("VGGish", "C5", 11.65, 2.55), ("VGGish", "C6", 16.0, 7.40)],
    columns=["network", "layer", "exact (s)", "Nystrom (s)"],
).set_index(["network", "layer"])
"""Seconds to select the filters of each convolution, exact similarities against Nystrom.

Measured on the authors' machine with their implementation (a Python double loop over
the pairs of filters for the exact similarities). For VGGish the totals, 34.8 s against
11.7 s, are the paper's "3 times faster"."""

CLASS_ACCURACY = pd.Series(
    [40.5, 47.1, 51.9, 28.3, 69.0, 25.3, 61.3, 38.7, 62.0, 53.0],
    index=pd.Index(["airport", "bus", "metro", "metro_station", "park", "public_square",
                    "shopping_mall", "street_pedestrian", "street_traffic", "tram"], name="scene"),
    name="accuracy %")
"""Class-wise accuracy (%) of the official DCASE 2021 Task 1A baseline on the evaluation split.

Its mean over classes, 47.7 % (log loss 1.473), is the baseline's official accuracy."""

CHALLENGE_BASELINES = pd.DataFrame(
    {"parameters": [46_246, 46_500, 61_148],
     "MACs per inference (M)": [math.nan, 29.23, 29.42],
     "stored as": ["float16", "int8", "float16"],
     "size as the rules count it": ["90.3 KB", "46.5 K parameters at int8", "122,296 bytes"]},
    index=pd.Index(["DCASE 2021 Task 1A", "DCASE 2022 Task 1", "DCASE 2024 Task 1"],
                   name="baseline of"))
"""The complexity of the challenge's own baseline systems, as published for each year.

The 2021 and 2022 baselines are the network of :class:`~audioprune_lite.models.DCASE21Baseline`
in Keras (2022: on 1-s clips, quantised to int8; "46.5 K" is the figure as published);
the 2024 baseline is another network (CP-Mobile), counted with the NeSsi script. MACs per
inference are on a 1-s clip; the 2021 task did not report them."""

HEADLINE = pd.Series(
    {"MACs cut %": 27, "parameters cut %": 25, "accuracy drop at most (points)": 1},
    name="Interspeech 2022").rename_axis("claim")
"""The Interspeech 2022 paper's headline result: its C2 row of :data:`PRUNING_TABLE`."""

FINE_TUNING = pd.DataFrame(
    {"optimizer": ["Adam", "Adam"], "learning rate": [1e-3, 1e-3], "batch size": [32, 32],
     "epochs": [30, 100]},
    index=pd.Index(["interspeech2022", "icassp2023"], name="paper"))
"""How the papers fine-tuned a pruned network."""

SOURCES = {
    "UNPRUNED": Source(
        "The unpruned networks", "icassp2023",
        "Experimental setup, and the pre-trained models the authors publish with their code: "
        "the DCASE 2021 baseline's accuracy and log loss in the README of the Interspeech "
        "2022 code (Baseline_code.py), VGGish's accuracy in the README of the ICASSP 2023 code"),
    "PRUNING_TABLE": Source(
        "Pruning the DCASE 2021 baseline, cosine against l1", "interspeech2022",
        "Results: the figures of accuracy against parameters and of the proposed method "
        "against the l1 norm, with the values typed in the authors' scripts 'Scripts to "
        "generate Figures/AI4S_compression_accuracy.py' and 'AI4S_comparison_accuracy.py'"),
    "KEPT_FILTERS": Source(
        "Filters kept per layer", "interspeech2022",
        "Results; the kept filter indices are in the authors' Important_index_layerwise/C1.npy, "
        "C2.npy and C3.npy"),
    "FEWER_EXAMPLES_ACCURACY": Source(
        "Fine-tuning with fewer examples", "interspeech2022",
        "Results: the figure of accuracy and training time against the share of training "
        "data, values typed in 'Scripts to generate Figures/AI4S_plot_training_cost_accuracy.py'"),
    "FEWER_EXAMPLES_MINUTES": Source(
        "Fine-tuning time against the share of data", "interspeech2022",
        "Results: the same figure's time axis, in "
        "'Scripts to generate Figures/AI4S_plot_training_cost_accuracy.py'"),
    "PRUNING_TIMES_S": Source(
        "Time to select filters, exact and Nystrom", "icassp2023",
        "Results: the figures of time against convolution layer, values typed in the "
        "authors' Plot_generation.py"),
    "CLASS_ACCURACY": Source(
        "The official baseline's class-wise accuracy", "dcase2021",
        "The results table of the baseline's README (development set, evaluation split)"),
    "CHALLENGE_BASELINES": Source(
        "The challenge's baselines, by its own count", "dcase2021",
        "The 2021 row: the task's baseline description (46,246 parameters, 90.3 KB at "
        "float16); the 2022 row: the 2022 analysis paper (key dcase2022), abstract (46.5 K "
        "parameters, 29.23 MMACs); the 2024 row: the 2024 baseline's README (key dcase2024), "
        "section Baseline Complexity (61,148 parameters, 29,419,156 MACs, 122,296 bytes at "
        "16 bits)"),
    "HEADLINE": Source(
        "The headline result", "interspeech2022", "Abstract"),
    "FINE_TUNING": Source(
        "Fine-tuning settings", "interspeech2022",
        "Experimental setup of both papers (the ICASSP 2023 paper for its 100 epochs); the "
        "authors' Fine-tuning.py and Fine_tuning_DCASE21_Net.py (Keras' Adam defaults, "
        "learning rate 0.001)"),
}
"""Where each published figure of this module comes from: its name to its :class:`Source`."""


def cite(name: str) -> str:
    """The full source of one of this module's published figures, e.g. ``cite("PRUNING_TABLE")``.

    Used by: Chapters 2, 4 and 5 (table captions).

    Parameters
    ----------
    name : str
        A key of :data:`SOURCES`: the name of the constant.

    Returns
    -------
    str
        The publication and the place in it.
    """
    if name not in SOURCES:
        raise KeyError(f"no published figure is called {name!r}; the figures are {sorted(SOURCES)}")
    return str(SOURCES[name])


def _cell(value) -> str:
    """One table cell as text: integers with thousands separators, no trailing zeros, NaN empty."""
    if pd.api.types.is_integer(value):
        return f"{value:,}"
    if pd.api.types.is_float(value):
        return "" if math.isnan(value) else f"{value:g}"
    return str(value)


def _rst_table(frame: pd.DataFrame) -> str:
    """A table as a reStructuredText list-table, the index as its first columns."""
    frame = frame.reset_index()
    rows = [list(map(str, frame.columns))]
    rows += [[_cell(value) for value in row] for row in frame.astype(object).values]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in rows:
        lines += [f"   * - {row[0]}"] + [f"     - {cell}" for cell in row[1:]]
    return "\n".join(lines)


def _as_frame(value) -> pd.DataFrame:
    if isinstance(value, dict):
        frame = pd.DataFrame.from_dict(value, orient="index", columns=["kept", "filters"])
        return frame.rename_axis("layer")
    return value.to_frame() if isinstance(value, pd.Series) else value


def _figures_as_rst() -> str:
    """Every figure of :data:`SOURCES` as a titled reStructuredText table with its source."""
    parts = []
    for name, source in SOURCES.items():
        parts.append(f"**{source.title}** (``{name}``). Source: {source}.\n\n"
                     f"{_rst_table(_as_frame(globals()[name]))}\n")
    return "\n".join(parts)


if __doc__ is not None:  # python -OO strips docstrings
    __doc__ += "\n" + _figures_as_rst()
