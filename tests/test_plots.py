"""The figures of chapters 4 to 6: what each function draws for a small table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from audioprune_lite import plots  # noqa: E402

LABELS = {"cosine": "cosine-pruned weights", "random": "random initialisation"}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def study() -> pd.DataFrame:
    """Two starts x three shares x two seeds, with made-up accuracy, time and energy."""
    rows = []
    for start, offset in (("cosine", 0.1), ("random", 0.0)):
        for fraction in (1.0, 0.5, 0.0):
            for seed in (0, 1):
                rows.append({"start": start, "fraction": fraction, "seed": seed,
                             "accuracy": 0.3 + offset + 0.2 * fraction + 0.01 * seed,
                             "wall_time_s": 10 * fraction + seed, "energy_kwh": 1e-4 * fraction})
    return pd.DataFrame(rows)


def line(ax, label):
    """The line drawn for legend entry ``label`` (seaborn labels a proxy of the same colour)."""
    lines = ax.get_lines()
    named = next(line for line in lines if line.get_label() == label)
    return next(line for line in [named, *lines]
                if len(line.get_xdata()) and line.get_color() == named.get_color())


def test_fewer_examples_draws_the_mean_per_start_and_the_baseline(study):
    ax = plots.plot_fewer_examples(study, labels=LABELS, baseline_accuracy=0.5, title="t")
    assert ax.get_legend_handles_labels()[1] == [*LABELS.values(), "unpruned baseline"]
    cosine = line(ax, "cosine-pruned weights")
    assert list(cosine.get_xdata()) == [0, 50, 100]
    assert np.allclose(cosine.get_ydata(), [40.5, 50.5, 60.5])  # mean over the two seeds, in %
    assert list(line(ax, "unpruned baseline").get_ydata()) == [50, 50]
    assert list(ax.get_xticks()) == [0, 50, 100]


def test_cost_by_share_leaves_out_runs_without_fine_tuning(study):
    figure = plots.plot_cost_by_share(study, labels=LABELS, title="cost")
    time_ax, energy_ax = figure.axes
    assert list(line(time_ax, "random initialisation").get_xdata()) == [50, 100]
    assert np.allclose(line(time_ax, "random initialisation").get_ydata(), [5.5, 10.5])
    energy = [line for line in energy_ax.get_lines() if len(line.get_xdata()) == 2]
    assert np.allclose(energy[0].get_ydata(), [0.05, 0.1])  # Wh
    assert time_ax.get_legend() is not None and energy_ax.get_legend() is None
    assert figure.texts[0].get_text() == "cost"


def test_energy_by_phase_stacks_the_parts_of_each_phase_first_on_top():
    phases = {"train": {"cpu_energy_kwh": 2e-3, "ram_energy_kwh": 1e-3, "gpu_energy_kwh": 0.0},
              "prune": pd.Series({"cpu_energy_kwh": 1e-6, "ram_energy_kwh": 2e-6,
                                  "gpu_energy_kwh": 0.0})}
    ax = plots.plot_energy_by_phase(phases)
    bars = ax.patches
    assert len(bars) == 6  # two phases, three parts
    train_cpu, prune_cpu, train_ram = bars[0], bars[1], bars[2]
    assert train_cpu.get_width() == pytest.approx(2.0)  # Wh
    assert prune_cpu.get_width() == pytest.approx(1e-3)
    assert train_ram.get_x() == pytest.approx(2.0) and train_ram.get_width() == pytest.approx(1.0)
    assert [label.get_text() for label in ax.get_yticklabels()] == ["train", "prune"]
    assert ax.yaxis_inverted()


def test_energy_against_time_draws_every_run_and_the_mean_power_line(study):
    runs = study[study["fraction"] > 0]
    ax = plots.plot_energy_against_time(runs, labels=LABELS)
    assert len(ax.collections[0].get_offsets()) == len(runs)
    watts = 3.6e6 * runs["energy_kwh"].sum() / runs["wall_time_s"].sum()
    mean_line = line(ax, f"{watts:.1f} W")
    assert mean_line.get_xdata()[0] == 0 and mean_line.get_ydata()[0] == 0
    assert mean_line.get_ydata()[1] == pytest.approx(watts * runs["wall_time_s"].max() / 3600)


def test_emissions_by_grid_draws_one_bar_per_country_in_order():
    grids = pd.DataFrame({"country": ["Norway", "Poland"], "g_per_kwh": [30.0, 750.0]},
                         index=["NOR", "POL"])
    ax = plots.plot_emissions_by_grid(grids, energy_kwh=0.002)
    assert [bar.get_width() for bar in ax.patches] == pytest.approx([0.06, 1.5])
    assert [label.get_text() for label in ax.get_yticklabels()] == ["Norway", "Poland"]


def test_pruning_study_draws_each_criterion_and_both_unpruned_references():
    runs = pd.DataFrame(
        [("none", "none", 0, 0.50)] + [("none", "fine-tuned", s, 0.52 + 0.02 * s) for s in (0, 1)]
        + [(pruned, method, s, 0.4 + 0.01 * s)
           for pruned in ("C1", "C2") for method in ("cosine", "l1") for s in (0, 1)],
        columns=["pruned", "method", "seed", "accuracy"])
    ax = plots.plot_pruning_study(runs)
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:2] == ["cosine", "l1"]
    assert line(ax, "unpruned, as trained").get_ydata()[0] == pytest.approx(50)
    assert line(ax, "unpruned, fine-tuned alike").get_ydata()[0] == pytest.approx(53)
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["C1", "C2"]
