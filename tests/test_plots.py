"""The figures of chapters 5 to 7: what each function draws for a small table."""

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


def test_fewer_examples_draws_the_mean_and_t_interval_per_start_and_the_baseline(study):
    early = study.assign(patience=np.where(study["start"] == "random", 10, 0))
    ax = plots.plot_fewer_examples(early, labels=LABELS, baseline_accuracy=0.5, title="t")
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == [*LABELS.values(), "unpruned, as trained"]
    cosine, random = ax.containers  # one error-bar line per start, in the order of the labels
    data = cosine.lines[0]
    assert np.allclose(data.get_xdata(), [0, 50, 100], atol=1)  # moved sideways by under 1 %
    assert np.allclose(data.get_ydata(), [40.5, 50.5, 60.5])  # mean over the two seeds, in %
    # the bar is the 95 % t-interval of the mean of two seeds 1 point apart: 12.71 x 0.707 / 1.414
    bar = cosine.lines[2][0].get_segments()[0]
    assert bar[1][1] - bar[0][1] == pytest.approx(2 * 12.706 * np.sqrt(0.5) / np.sqrt(2), rel=1e-3)
    assert data.get_linestyle() == "-" and random.lines[0].get_linestyle() == "--"  # early stopping
    assert data.get_color() != random.lines[0].get_color()
    baseline = next(line for line in ax.get_lines() if line.get_label() == "unpruned, as trained")
    assert list(baseline.get_ydata()) == [50, 50]
    assert list(ax.get_xticks()) == [0, 50, 100]


def test_fewer_examples_does_not_join_shares_a_start_did_not_run(study):
    fewer = study[(study["start"] == "cosine") | (study["fraction"] != 0.5)]
    ax = plots.plot_fewer_examples(fewer, labels=LABELS)
    random = ax.containers[1].lines[0]
    assert np.isnan(random.get_ydata()[1]) and np.isfinite(random.get_ydata()[[0, 2]]).all()


def test_cost_by_share_leaves_out_runs_without_fine_tuning(study):
    figure = plots.plot_cost_by_share(study, labels=LABELS, title="cost", log=True)
    time_ax, energy_ax = figure.axes
    assert list(line(time_ax, "random initialisation").get_xdata()) == [50, 100]
    assert np.allclose(line(time_ax, "random initialisation").get_ydata(), [5.5, 10.5])
    dots = [line for line in time_ax.get_lines() if line.get_linestyle() == "None"]
    assert sorted(len(d.get_xdata()) for d in dots) == [4, 4]  # every run of each start, 0 % left out
    energy = [line for line in energy_ax.get_lines() if line.get_label() == "cosine-pruned weights"]
    assert np.allclose(energy[0].get_ydata(), [0.05, 0.1])  # Wh
    assert time_ax.get_legend() is not None and energy_ax.get_legend() is None
    assert time_ax.get_yscale() == "log" and "(s)" in time_ax.get_ylabel()
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


# --- Chapter 4: criteria at equal budgets, fine-tuning, selection timing ------------------------

def colour_distance(first, second) -> float:
    """Euclidean distance of two colours in RGB (0 to 1 per channel): the colorblind palette's
    blue and green are 0.30 apart, its orange and vermillion (hard to tell apart) 0.20."""
    return float(np.linalg.norm(np.subtract(matplotlib.colors.to_rgb(first),
                                            matplotlib.colors.to_rgb(second))))


def test_criteria_comparison_tells_the_criteria_apart_and_bands_random_by_a_t_interval():
    from scipy import stats

    rows = [(method, removed, 0, accuracy) for method, accuracy in
            (("cosine", 0.6), ("l1", 0.62), ("geometric-median", 0.61))
            for removed in (0.25, 0.5)]
    seeds = [0.5, 0.55, 0.62]
    rows += [("random", removed, seed, accuracy - removed / 10)
             for removed in (0.25, 0.5) for seed, accuracy in enumerate(seeds)]
    results = pd.DataFrame(rows, columns=["method", "removed", "seed", "accuracy"])
    ax = plots.plot_criteria_comparison(results, baseline_accuracy=0.7)
    methods = ["cosine", "l1", "geometric-median", "random"]
    colours = {method: line(ax, method).get_color() for method in methods}
    assert min(colour_distance(colours[a], colours[b])
               for i, a in enumerate(methods) for b in methods[i + 1:]) > 0.25
    assert np.allclose(line(ax, "random").get_ydata(), [np.mean(seeds) - 0.025, np.mean(seeds) - 0.05])
    half = stats.t.ppf(0.975, 2) * np.std(seeds, ddof=1) / np.sqrt(3)
    bands = [c for c in ax.collections if isinstance(c, matplotlib.collections.PolyCollection)
             and len(c.get_paths())]
    assert len(bands) == 1  # random only: a single run has no interval
    band = bands[0].get_paths()[0].vertices[:, 1]
    assert band.max() - band.min() == pytest.approx(2 * half + 0.025)
    dots = [c for c in ax.collections if len(c.get_offsets()) == 6]
    assert len(dots) == 1  # every random run, and no dots for the single-run criteria
    assert line(ax, "unpruned").get_ydata()[0] == 0.7


def test_selection_timing_gives_every_method_its_own_colour():
    timings = pd.DataFrame([(d, method, 0.001 * d * factor) for d in (64, 128)
                            for method, factor in (("exact", 1), ("Nystrom, m = 9", 2),
                                                   ("Nystrom, m = 64", 3), ("rest", 4))],
                           columns=["filters", "method", "ms"])
    ax = plots.plot_selection_timing(timings)
    colours = [line(ax, method).get_color() for method in timings["method"].unique()]
    assert min(colour_distance(a, b) for i, a in enumerate(colours) for b in colours[i + 1:]) > 0.25
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["64", "128"]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_history_of_several_runs_per_network_draws_their_mean_and_t_interval():
    from scipy import stats

    from audioprune_lite.train import History

    def run(shift):
        return History(train_loss=[1.0, 0.8], val_loss=[1.1 + shift, 0.9 + shift],
                       val_accuracy=[0.5 + shift, 0.6 + shift], best_epoch=2)

    shifts = [0.0, 0.02, 0.07]
    figure = plots.plot_history({"pruned": [run(s) for s in shifts],
                                 "unpruned": [run(0.2 + s) for s in shifts]})
    loss_ax, accuracy_ax = figure.axes
    assert np.allclose(line(accuracy_ax, "pruned").get_ydata(), [0.53, 0.63])
    assert np.allclose(line(accuracy_ax, "unpruned").get_ydata(), [0.73, 0.83])
    half = stats.t.ppf(0.975, 2) * np.std(shifts, ddof=1) / np.sqrt(3)
    band = accuracy_ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.max() - band.min() == pytest.approx(2 * half + 0.1)
    assert loss_ax.get_legend() is None and accuracy_ax.get_legend() is not None
    assert [t for t in accuracy_ax.get_xticks() if 1 <= t <= 2] == [1, 2]  # whole epochs only


def test_history_of_one_run_marks_the_restored_epoch():
    from audioprune_lite.train import History

    history = History(train_loss=[1.0, 0.8, 0.7], val_loss=[1.1, 0.9, 1.0],
                      val_accuracy=[0.5, 0.6, 0.55], best_epoch=2)
    loss_ax, accuracy_ax = plots.plot_history(history).axes
    assert list(line(accuracy_ax, "restored epoch").get_xdata()) == [2, 2]
    assert loss_ax.get_title() == "loss" and accuracy_ax.get_title() == "validation accuracy"


# --- Chapter 1: waveform, spectrum, filter bank and log-mel -------------------------------------

def test_waveform_is_drawn_against_time_in_seconds():
    ax = plots.plot_waveform(np.zeros(8000), 16000)
    assert ax.get_xlabel() == "time (s)"
    assert ax.get_xlim() == (0, 0.5)


def test_spectrum_levels_share_one_reference_unless_asked_otherwise():
    sr = 16000
    t = np.arange(sr) / sr
    loud, quiet = np.sin(2 * np.pi * 1000 * t), 0.1 * np.sin(2 * np.pi * 1000 * t)
    ax = plots.plot_spectrum(loud, sr, label="loud")
    plots.plot_spectrum(quiet, sr, ax=ax, label="quiet")
    peaks = [line.get_ydata().max() for line in ax.get_lines()]
    assert peaks == pytest.approx([0, -20], abs=0.1)  # a full-scale sine peaks at 0 dB
    assert "full scale" in ax.get_ylabel()
    _, ax = plt.subplots()
    for signal in (loud, quiet):
        plots.plot_spectrum(signal, sr, ax=ax, reference=None)
    assert [line.get_ydata().max() for line in ax.get_lines()] == pytest.approx([0, 0])
    assert "max" in ax.get_ylabel()


def test_spectrum_in_bands_has_one_point_per_band_at_the_mean_power():
    sr = 16000
    noise = np.random.default_rng(0).standard_normal(sr)
    ax = plots.plot_spectrum(noise, sr, bands_per_octave=3, color="k", linestyle="--")
    line = ax.get_lines()[0]
    frequencies = line.get_xdata()
    assert len(frequencies) == pytest.approx(3 * np.log2(sr / 2 / 20), abs=2)
    assert np.allclose(np.diff(np.log2(frequencies)), 1 / 3)
    # white noise of unit variance: the mean power per bin, 4 sum(w^2) / sum(w)^2 = 6 / n with a
    # Hann window w, in every band wide enough to average over many bins
    wide = frequencies > 200
    assert line.get_ydata()[wide] == pytest.approx(10 * np.log10(6 / sr), abs=1.5)
    assert line.get_linestyle() == "--" and line.get_color() == "k"


def test_filter_bank_draws_one_line_per_band():
    from audioprune_lite.features import LogMelConfig

    ax = plots.plot_filter_bank(LogMelConfig(n_mels=20))
    assert len(ax.get_lines()) == 20
    assert ax.get_xlabel() == "frequency (Hz)"


def overlapping_tick_labels(figure) -> list[str]:
    """Pairs of neighbouring x tick labels that overprint, on every visible axes."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    clashes = []
    for ax in figure.axes:
        labels = [label for label in ax.get_xticklabels()
                  if label.get_visible() and label.get_text()]
        boxes = sorted(((label.get_window_extent(renderer), label.get_text()) for label in labels),
                       key=lambda box: box[0].x0)
        clashes += [f"{a[1]} / {b[1]}" for a, b in zip(boxes, boxes[1:]) if a[0].x1 > b[0].x0]
    return clashes


def test_log_mel_grid_labels_its_axes_with_units_and_its_ticks_do_not_overprint():
    from audioprune_lite.features import LogMelConfig

    config = LogMelConfig()
    rng = np.random.default_rng(0)
    clips = {f"scene {i}": rng.standard_normal(config.sr).astype(np.float32) for i in range(10)}
    figure = plots.plot_log_mel_grid(clips, config)
    shown = [ax for ax in figure.axes if ax.get_visible() and ax.get_title()]
    assert len(shown) == 10
    assert {ax.get_xlabel() for ax in shown} <= {"time (s)", ""}
    assert {ax.get_ylabel() for ax in shown} <= {"frequency (Hz)", ""}
    assert not overlapping_tick_labels(figure)


def test_log_mel_labels_its_axes_with_units():
    from audioprune_lite.features import LogMelConfig, log_mel

    config = LogMelConfig()
    ax = plots.plot_log_mel(log_mel(np.zeros(config.sr, dtype=np.float32), config), config)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time (s)", "frequency (Hz)")
    assert not overlapping_tick_labels(ax.figure)


# --- Chapter 3: filters, distances, and trained layers against random ones ----------------------

def overlapping_texts(figure, texts) -> list[str]:
    """Pairs of the given text artists whose drawn boxes overlap."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [(text.get_window_extent(renderer), text.get_text()) for text in texts
             if text.get_visible() and text.get_text()]
    return [f"{a[1]!r} / {b[1]!r}" for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a[0].overlaps(b[0])]


def test_filters_figure_title_panel_titles_and_axis_labels_do_not_collide():
    images = np.random.default_rng(0).standard_normal((16, 7, 7))
    figure = plots.plot_filters(images, marked=[5, 7], marked_label="dropped",
                                titles=[f"{i} (~{15 - i})" for i in range(16)],
                                title="conv1 filters; framed: dropped by the greedy pass")
    panels = [ax for ax in figure.axes if ax.get_visible() and ax.get_title()]
    assert len(panels) == 16 and panels[5].get_title() == "5 (~10)\n(dropped)"
    texts = [figure._suptitle, figure._supxlabel, figure._supylabel] + [ax.title for ax in panels]
    assert not overlapping_texts(figure, texts)
    assert (figure._supxlabel.get_text(), figure._supylabel.get_text()) == (
        "time (frames)", "frequency (mel bands)")
    limit = np.abs(images).max()
    assert all(ax.images[0].get_clim() == (-limit, limit) for ax in panels)  # one colour scale


def test_distance_heatmap_leaves_the_diagonal_blank_and_marks_dropped_filters_in_red():
    distances = np.array([[0, .1, .9], [.1, 0, .8], [.9, .8, 0]])
    with plt.rc_context():
        plots.use_book_style()  # its white grid must not cross the blank diagonal
        ax = plots.plot_distance_heatmap(distances, dropped=[1], title="three filters")
    mesh = ax.collections[0]
    values = np.ma.masked_invalid(mesh.get_array()).reshape(3, 3)
    assert np.ma.getmaskarray(values).diagonal().all() and values[0, 2] == pytest.approx(0.9)
    red = {label.get_text() for label in ax.get_xticklabels() + ax.get_yticklabels()
           if label.get_color() == "tab:red"}
    assert red == {"1"}
    assert ax.figure.axes[-1].get_ylabel() == "cosine distance"  # the colour bar
    assert not any(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())


def test_redundancy_null_draws_the_trained_layer_against_the_band_and_the_kept_counts():
    rng = np.random.default_rng(0)
    random_nearest = {"conv1": rng.uniform(0.5, 0.9, (200, 4)),
                      "conv3": rng.uniform(0.5, 0.9, (200, 8))}
    trained_nearest = {"conv1": [0.7, 0.6, 0.8, 0.6], "conv3": [0.1] * 8}
    random_kept = {"conv1": rng.integers(2, 4, 200), "conv3": rng.integers(4, 8, 200)}
    trained_kept = {"conv1": 3, "conv3": 7}
    figure = plots.plot_redundancy_null(trained_nearest, random_nearest, trained_kept, random_kept,
                                        title="trained against random")
    (top1, top3), (bottom1, bottom3) = np.reshape(figure.axes, (2, 2))
    dots = next(line for line in top1.get_lines() if line.get_marker() == "o")
    assert list(dots.get_ydata()) == [0.6, 0.6, 0.7, 0.8]  # sorted, closest first
    median = next(line for line in top3.get_lines() if line.get_marker() != "o")
    drawn = np.sort(random_nearest["conv3"], axis=1)
    assert np.allclose(median.get_ydata(), np.median(drawn, axis=0))
    band = top3.collections[0].get_paths()[0].vertices[:, 1]
    low, high = np.percentile(drawn, [5, 95], axis=0)
    assert band.min() == pytest.approx(low.min()) and band.max() == pytest.approx(high.max())
    heights = [patch.get_height() for patch in bottom3.patches]
    assert sum(heights) == pytest.approx(100)
    assert [line.get_xdata()[0] for line in bottom1.get_lines()] == [3]
    assert top1.get_title() == "conv1: 4 filters"
    assert bottom1.get_xlabel() == "filters kept by the greedy pass"
    assert not overlapping_texts(figure, [figure._suptitle, top1.title, top3.title])
    assert len(figure.legends[0].get_texts()) == 5
    assert not overlapping_tick_labels(figure)
