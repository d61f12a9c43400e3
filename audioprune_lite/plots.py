"""The figures the book shows, drawn with matplotlib and seaborn.

Each function draws into a matplotlib ``Axes`` it is given (or makes a figure) and
returns it, so a notebook cell stays one line and a student can restyle the result.
The functions come in the order of the chapters that draw them.
"""

from __future__ import annotations

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .carbon import mean_power_w
from .features import LogMelConfig, log_mel, mel_filter_bank
from .metrics import seed_interval

__all__ = [
    "plot_confusion",
    "plot_cost_by_share",
    "plot_criteria_comparison",
    "plot_deploy_pareto",
    "plot_device_accuracy",
    "plot_distance_heatmap",
    "plot_emissions_by_grid",
    "plot_energy_against_time",
    "plot_energy_by_phase",
    "plot_fewer_examples",
    "plot_filter_bank",
    "plot_filters",
    "plot_history",
    "plot_log_mel",
    "plot_log_mel_grid",
    "plot_pruning_study",
    "plot_redundancy_null",
    "plot_selection_timing",
    "plot_spectrum",
    "plot_waveform",
    "use_book_style",
]


def _t_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """(low, high) of the t-interval of the mean over seeds (:func:`audioprune_lite.metrics.seed_interval`),
    the mean alone for a single value; usable as seaborn's ``errorbar``."""
    values = np.asarray(values, dtype=float)
    half = seed_interval(values, confidence)
    half = 0.0 if np.isnan(half) else half
    return values.mean() - half, values.mean() + half


def use_book_style() -> None:
    """Apply the book's plotting style (seaborn "notebook" context, white grid).

    Used by: the first cell of every chapter.
    """
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 96, "figure.figsize": (8, 3), "axes.titlesize": "medium"})


def plot_waveform(y: np.ndarray, sr: int, ax=None, title: str | None = None):
    """Draw a signal against time in seconds.

    Used by: Chapter 1.

    Parameters
    ----------
    y : numpy.ndarray
        Mono signal, shape ``(samples,)``.
    sr : int
        Sample rate in Hz.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots()[1]
    ax.plot(np.arange(len(y)) / sr, y, linewidth=0.5)
    ax.set(xlabel="time (s)", ylabel="amplitude", title=title, xlim=(0, len(y) / sr))
    return ax


def plot_spectrum(y: np.ndarray, sr: int, ax=None, title: str | None = None, label=None,
                  reference: float | None = 1.0, bands_per_octave: int | None = None, **line):
    """Draw the magnitude spectrum of a whole signal in dB against frequency (log axis).

    The spectrum is the magnitude of the real FFT with a Hann window, scaled so that a sine
    of amplitude 1 (full scale) peaks at 0 dB. With the default ``reference`` every signal
    is drawn on that common scale, so the levels of several curves can be compared; with
    ``reference=None`` each curve is relative to its own maximum, which shows its shape only.

    Used by: Chapter 1.

    Parameters
    ----------
    y : numpy.ndarray
        Mono signal, shape ``(samples,)``.
    sr : int
        Sample rate in Hz.
    ax : matplotlib.axes.Axes, optional
    title, label : str, optional
        Axes title and line label (for a legend).
    reference : float or None
        Amplitude of the sine that reads 0 dB (1.0: dB relative to full scale), or None
        for dB relative to this signal's own maximum.
    bands_per_octave : int, optional
        Average the power in bands this many to an octave (from 20 Hz), drawn at the bands'
        centres: a smooth curve instead of one point per FFT bin.
    **line
        Passed to ``Axes.semilogx`` (e.g. ``color``, ``linestyle``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots()[1]
    window = np.hanning(len(y))
    magnitude = np.abs(np.fft.rfft(y * window)) * 2 / window.sum()
    frequencies = np.fft.rfftfreq(len(y), 1 / sr)
    keep = frequencies >= 20
    frequencies, magnitude = frequencies[keep], magnitude[keep]
    if bands_per_octave:
        band = np.floor(np.log2(frequencies / 20) * bands_per_octave).astype(int)
        counts = np.bincount(band)
        filled = counts > 0
        power = np.bincount(band, weights=magnitude ** 2)[filled] / counts[filled]
        magnitude = np.sqrt(power)
        frequencies = 20 * 2 ** ((np.flatnonzero(filled) + 0.5) / bands_per_octave)
    decibels = librosa.amplitude_to_db(magnitude, ref=np.max if reference is None else reference,
                                       amin=1e-10, top_db=None)
    ax.semilogx(frequencies, decibels, linewidth=1.2 if bands_per_octave else 0.6, label=label,
                **line)
    ax.set(xlabel="frequency (Hz)", title=title, xlim=(20, sr / 2),
           ylabel="magnitude (dB re max)" if reference is None else "magnitude (dB re full scale)")
    return ax


def plot_log_mel(
    features: np.ndarray, config: LogMelConfig = LogMelConfig(), ax=None,
    title: str | None = None, colorbar: bool = True,
):
    """Draw a log-mel spectrogram with time in seconds and frequency on the mel scale.

    Used by: Chapter 1.

    Parameters
    ----------
    features : numpy.ndarray
        Shape ``(n_mels, frames)`` in dB, as :func:`audioprune_lite.features.log_mel` returns.
    config : LogMelConfig
        The settings that made ``features`` (for the axes).
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    colorbar : bool
        Add a colour bar in dB.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots()[1]
    image = librosa.display.specshow(
        features, sr=config.sr, hop_length=config.hop_length, x_axis="s", y_axis="mel",
        fmin=config.fmin, fmax=config.top_frequency, ax=ax, cmap="magma",
    )
    _label_time_and_frequency(ax, time_ticks=5)
    ax.set(title=title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, format="%+.0f dB")
    return ax


def _label_time_and_frequency(ax, time_ticks: int) -> None:
    """Label a spectrogram's axes with units and keep its time ticks few enough not to overprint."""
    ax.xaxis.set_major_locator(plt.MaxNLocator(time_ticks, steps=[1, 2, 2.5, 5, 10]))
    ax.set(xlabel="time (s)", ylabel="frequency (Hz)")


def plot_log_mel_grid(clips: dict, config: LogMelConfig = LogMelConfig(), columns: int = 5):
    """Draw the log-mel spectrograms of several labelled clips side by side, one colour scale.

    Used by: Chapter 1 (one clip of every scene class).

    Parameters
    ----------
    clips : dict of str to numpy.ndarray
        Title (e.g. the scene label) to mono signal at ``config.sr``.
    config : LogMelConfig
    columns : int
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    features = {name: log_mel(y, config) for name, y in clips.items()}
    low = min(float(np.percentile(f, 1)) for f in features.values())
    high = max(float(f.max()) for f in features.values())
    rows = -(-len(features) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.2 * rows),
                                sharex=True, sharey=True, squeeze=False)
    for ax, (name, feature) in zip(axes.flat, features.items()):
        image = librosa.display.specshow(
            feature, sr=config.sr, hop_length=config.hop_length, x_axis="s", y_axis="mel",
            fmin=config.fmin, fmax=config.top_frequency, ax=ax, cmap="magma",
            vmin=low, vmax=high,
        )
        _label_time_and_frequency(ax, time_ticks=3)
        ax.set_title(name)
        ax.label_outer()
    for ax in axes.flat[len(features):]:
        ax.set_visible(False)
    figure.colorbar(image, ax=axes, format="%+.0f dB", shrink=0.8)
    return figure


def plot_filter_bank(config: LogMelConfig = LogMelConfig(), ax=None):
    """Draw the triangular mel filters against frequency in Hz.

    Used by: Chapter 1.

    Parameters
    ----------
    config : LogMelConfig
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots()[1]
    bank = mel_filter_bank(config)
    frequencies = librosa.fft_frequencies(sr=config.sr, n_fft=config.n_fft)
    ax.plot(frequencies, bank.T, linewidth=0.8)
    ax.set(xlabel="frequency (Hz)", ylabel="filter weight",
           title=f"{config.n_mels} mel filters, {config.fmin:g} to {config.top_frequency:g} Hz")
    return ax


def plot_history(history, ax_loss=None, ax_accuracy=None):
    """Draw training curves: losses (training and validation) and validation accuracy per epoch.

    Given one run, the restored (best validation loss) epoch is marked with a dotted line.
    Given several runs per label (e.g. a pruned and an unpruned network, fine-tuned with
    the same seeds), each label is drawn in its own colour as its mean per epoch with a
    band of the 95 % t-interval over its runs (mean +- t(0.975, n - 1) s / sqrt(n)), and
    every run as a dot; the restored epochs differ between runs and are not marked.

    Used by: Chapters 2 and 8 (training a network) and Chapter 4 (fine-tuning a pruned
    network next to the unpruned one).

    Parameters
    ----------
    history : audioprune_lite.train.History or dict of str to list of History
        One run, or a label to its runs.
    ax_loss, ax_accuracy : matplotlib.axes.Axes, optional
        Made side by side when not given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from collections.abc import Mapping


    if ax_loss is None or ax_accuracy is None:
        _, (ax_loss, ax_accuracy) = plt.subplots(1, 2, figsize=(10, 3), layout="constrained")
    if isinstance(history, Mapping):

        runs = pd.concat([run.as_frame().reset_index().assign(network=label)
                          for label, label_runs in history.items() for run in label_runs])
        palette = dict(zip(history, sns.color_palette("colorblind")))
        for ax, column, label in ((ax_loss, "val_loss", "validation cross-entropy"),
                                  (ax_accuracy, "val_accuracy", "validation accuracy")):
            sns.lineplot(data=runs, x="epoch", y=column, hue="network", style="network",
                         palette=palette, markers=True, dashes=False, errorbar=_t_interval, ax=ax)
            sns.scatterplot(data=runs, x="epoch", y=column, hue="network", palette=palette,
                            s=12, alpha=0.5, legend=False, ax=ax)
            ax.set(xlabel="epoch", ylabel=label)
        ax_accuracy.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
        ax_loss.get_legend().remove()
        ax_accuracy.legend(title=None, fontsize="small")
    else:
        frame = history.as_frame()
        sns.lineplot(data=frame[["train_loss", "val_loss"]], ax=ax_loss, markers=True, dashes=False)
        ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
        sns.lineplot(data=frame["val_accuracy"], ax=ax_accuracy, marker="o")
        ax_accuracy.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
        for ax in (ax_loss, ax_accuracy):
            ax.axvline(history.best_epoch, color="grey", linestyle=":", label="restored epoch")
        ax_accuracy.legend(loc="lower right")
    for ax in (ax_loss, ax_accuracy):
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    if not ax_loss.figure.get_layout_engine():
        ax_loss.figure.tight_layout()
    return ax_loss.figure


def plot_confusion(confusion: np.ndarray, classes, ax=None, title: str | None = None):
    """Draw a confusion matrix as a heatmap of row percentages (each true class sums to 100).

    Used by: Chapter 2.

    Parameters
    ----------
    confusion : numpy.ndarray
        Counts, rows = true class, columns = predicted class.
    classes : sequence of str
        Class names in index order.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots(figsize=(7, 6))[1]
    totals = confusion.sum(axis=1, keepdims=True)
    percent = 100 * confusion / np.maximum(totals, 1)
    sns.heatmap(percent, annot=True, fmt=".0f", cmap="Blues", vmin=0, vmax=100, square=True,
                xticklabels=classes, yticklabels=classes, cbar_kws={"label": "% of true class"},
                ax=ax)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return ax


def plot_device_accuracy(per_device: dict, unseen, ax=None, title: str | None = None):
    """Draw accuracy per recording device as bars, devices unseen in training in another colour.

    Used by: Chapter 2 (seen versus unseen devices).

    Parameters
    ----------
    per_device : dict of str to float
        Accuracy per device, as :func:`audioprune_lite.train.evaluate` returns it.
    unseen : collection of str
        Devices absent from training.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    frame = pd.DataFrame({"device": list(per_device), "accuracy": list(per_device.values())})
    frame["in training"] = np.where(frame["device"].isin(list(unseen)), "unseen", "seen")
    sns.barplot(data=frame, x="device", y="accuracy", hue="in training", ax=ax,
                hue_order=["seen", "unseen"])
    ax.set(ylim=(0, 1), title=title)
    return ax


# --- Chapters 3 and 4: cosine-distance filter pruning ----------------------------------------------

def plot_filters(images, columns: int = 8, titles=None, marked=(), marked_label: str = "removed",
                 title: str | None = None, size: float = 1.3, xlabel: str = "time (frames)",
                 ylabel: str = "frequency (mel bands)"):
    """Draw filters (or prototypes) as small images on one symmetric colour scale.

    Each image is drawn with frequency (mel bands) upwards and time to the right, as the
    network's input is, in a diverging colour map centred on zero (red positive, blue
    negative), so that a filter and its negative look like colour negatives. The figure
    uses matplotlib's constrained layout, so the figure title, the panel titles and the
    colour bar never overlap.

    Used by: Chapter 3 (the filters of ``conv1``, the prototypes of ``conv2``).

    Parameters
    ----------
    images : array_like, shape (n, kh, kw)
        One 2-D kernel per filter, e.g. ``conv1.weight[:, 0]`` or prototypes reshaped to
        ``(d, kh, kw)``. Each panel uses the same colour scale, set by the largest
        absolute value.
    columns : int
        Panels per row.
    titles : sequence of str, optional
        One title per panel; default ``"filter 0"``, ``"filter 1"``, ...
    marked : collection of int
        Panels framed in black and labelled with ``marked_label`` (e.g. the filters a
        pruning method removes).
    marked_label : str
    title : str, optional
        Title of the whole figure.
    size : float
        Width and height of one panel in inches.
    xlabel, ylabel : str
        Axis labels shared by all panels (drawn once, below and left of the grid), with
        their units: a kernel position of ``conv1`` and ``conv2`` is one input frame
        (20 ms) and one mel band.

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = np.asarray(images, dtype=float)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, kh, kw), got {images.shape}")
    n = len(images)
    rows = -(-n // columns)
    limit = float(np.abs(images).max()) or 1.0
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + 0.5),
                                squeeze=False, layout="constrained")
    marked = {int(i) for i in marked}
    for index, ax in enumerate(axes.flat):
        if index >= n:
            ax.set_visible(False)
            continue
        image = ax.imshow(images[index], cmap="RdBu_r", vmin=-limit, vmax=limit, origin="lower")
        label = titles[index] if titles is not None else f"filter {index}"
        if index in marked:
            label = f"{label}\n({marked_label})"
            for spine in ax.spines.values():
                spine.set(visible=True, linewidth=3, color="black")
        ax.set_title(label, fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
    figure.supxlabel(xlabel, fontsize="medium")
    figure.supylabel(ylabel, fontsize="medium")
    figure.colorbar(image, ax=axes, shrink=0.8, label="weight")
    if title:
        figure.suptitle(title)
    return figure


def plot_distance_heatmap(distances, ax=None, title: str | None = None, annot: bool = False,
                          dropped=()):
    """Draw a matrix of cosine distances between filters as a heatmap.

    Dark cells are pairs of filters pointing the same way (distance near 0); the diagonal
    (always zero) is left blank. The tick labels of ``dropped`` filters are drawn in red.

    Used by: Chapter 3 (the similarity of a layer's filters).

    Parameters
    ----------
    distances : array_like, shape (d, d)
        As :func:`audioprune_lite.pruning.cosine_distances` returns it (0 to 2).
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    annot : bool
        Write each distance in its cell (two decimals); readable up to about 16 filters.
    dropped : collection of int
        Filters to mark in red, e.g. those the greedy pass does not keep.

    Returns
    -------
    matplotlib.axes.Axes
    """
    distances = np.asarray(distances, dtype=float)
    d = len(distances)
    ax = ax or plt.subplots(figsize=(7.5, 6.5))[1]
    step = 1 if d <= 32 else int(np.ceil(d / 32))
    sns.heatmap(distances, ax=ax, cmap="mako", vmin=0, vmax=max(1.0, float(distances.max())),
                mask=np.eye(d, dtype=bool), square=True, annot=annot, fmt=".2f",
                annot_kws={"fontsize": 7}, xticklabels=step, yticklabels=step,
                cbar_kws={"label": "cosine distance"})
    dropped = {int(i) for i in dropped}
    for label in ax.get_xticklabels() + ax.get_yticklabels():
        if label.get_text().isdigit() and int(label.get_text()) in dropped:
            label.set(color="tab:red", fontweight="bold")
    ax.grid(False)  # the style's grid lines would cross the blank diagonal
    ax.set(xlabel="filter j", ylabel="filter i", title=title)
    return ax


def plot_redundancy_null(trained_nearest: dict, random_nearest: dict, trained_kept: dict,
                         random_kept: dict, percentiles=(5, 95), title: str | None = None,
                         size=(3.6, 2.7)):
    """Trained layers against layers of random weights: nearest-neighbour distances and kept counts.

    One column per layer. Top: each filter's cosine distance to its nearest other filter,
    ``D[i, n(i)]``, sorted closest first; the trained layer's as dots, and at every rank
    the median (line) and a percentile band (shaded, default 5th to 95th) of the random
    layers' sorted distances. Bottom: the share of random layers whose greedy pass keeps
    each number of filters (bars), and the number the trained layer keeps (vertical line).

    Used by: Chapter 3 (are trained filters more alike than random ones?).

    Parameters
    ----------
    trained_nearest : dict of str to array_like, shape (d,)
        Per layer, the trained filters' nearest-neighbour distances (``closest_pairs(D)[2]``).
    random_nearest : dict of str to array_like, shape (n_draws, d)
        Per layer, the same for each random layer, one row per draw.
    trained_kept : dict of str to int
        Per layer, the number of filters the greedy pass keeps in the trained layer.
    random_kept : dict of str to array_like of int, shape (n_draws,)
        Per layer, the number it keeps in each random layer.
    percentiles : (float, float)
        Lower and upper percentile of the shaded band.
    title : str, optional
        Title of the whole figure.
    size : (float, float)
        Width and height of one panel in inches.

    Returns
    -------
    matplotlib.figure.Figure
        With ``2 x len(trained_nearest)`` axes, the top row first.
    """
    layers = list(trained_nearest)
    low, high = percentiles
    figure, axes = plt.subplots(2, len(layers), figsize=(size[0] * len(layers), 2 * size[1]),
                                squeeze=False, layout="constrained")
    largest = max(1.0, *(float(np.max(random_nearest[n])) for n in layers))
    for column, name in enumerate(layers):
        trained = np.sort(np.asarray(trained_nearest[name], dtype=float))
        drawn = np.sort(np.asarray(random_nearest[name], dtype=float), axis=1)
        rank = np.arange(1, len(trained) + 1)
        top, bottom = axes[0, column], axes[1, column]
        top.fill_between(rank, *np.percentile(drawn, [low, high], axis=0), color="0.6",
                         alpha=0.4, linewidth=0,
                         label=f"random layers, {low:g}th to {high:g}th percentile")
        top.plot(rank, np.median(drawn, axis=0), color="0.35", label="random layers, median")
        top.plot(rank, trained, "o", color="tab:red", markersize=4, label="trained layer")
        top.set(ylim=(0, largest * 1.05), xlim=(0.5, len(trained) + 0.5),
                title=f"{name}: {len(trained)} filters",
                xlabel="filter rank (closest first)",
                ylabel="cosine distance\nto the nearest filter" if column == 0 else "")
        counts = np.asarray(random_kept[name], dtype=int)
        values, occurrences = np.unique(counts, return_counts=True)
        bars = bottom.bar(values, 100 * occurrences / len(counts), width=0.8, color="0.6")
        line = bottom.axvline(trained_kept[name], color="tab:red", linewidth=2.5)
        span = range(min(values.min(), trained_kept[name]) - 1,
                     max(values.max(), trained_kept[name]) + 2)
        bottom.set_xticks([v for v in span if v % (1 if len(span) <= 12 else 2) == 0])
        bottom.set(xlim=(span[0], span[-1]), xlabel="filters kept by the greedy pass",
                   ylabel="share of random layers (%)" if column == 0 else "")
    handles, labels = axes[0, -1].get_legend_handles_labels()
    labels += ["random layers: share that keep this many", "trained layer: filters kept"]
    figure.legend([*handles, bars, line], labels,
                  loc="outside lower center", ncols=3, fontsize="small")
    if title:
        figure.suptitle(title)
    return figure


def plot_criteria_comparison(results: pd.DataFrame, baseline_accuracy: float | None = None,
                             ax=None, title: str | None = None):
    """Draw accuracy against the share of filters removed, one line per pruning criterion.

    Every criterion has its own colour (orange and vermillion, too alike, are never both
    used) and marker. Criteria with several runs (random pruning over seeds) are drawn as
    their mean with a band of the 95 % t-interval over the runs (mean +- t(0.975, n - 1)
    s / sqrt(n)), and every run as a dot of the criterion's colour.

    Used by: Chapter 4 (cosine vs l1 vs geometric median vs random at equal budgets).

    Parameters
    ----------
    results : pandas.DataFrame
        Columns ``method``, ``removed`` (fraction of filters removed, 0 to 1) and
        ``accuracy`` (0 to 1); one row per run.
    baseline_accuracy : float, optional
        The unpruned network's accuracy, drawn as a dashed line.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """


    ax = ax or plt.subplots(figsize=(8, 4), layout="constrained")[1]
    colours = sns.color_palette("colorblind")
    methods = list(dict.fromkeys(results["method"]))
    palette = dict(zip(methods, [colours[i] for i in (0, 1, 2, 4, 5, 9, 7, 8, 6)]))
    sns.lineplot(data=results, x="removed", y="accuracy", hue="method", style="method",
                 palette=palette, markers=True, dashes=False, errorbar=_t_interval, ax=ax)
    repeated = results.groupby("method").filter(lambda runs: runs["removed"].duplicated().any())
    if len(repeated):
        sns.scatterplot(data=repeated, x="removed", y="accuracy", hue="method", palette=palette,
                        s=14, alpha=0.6, legend=False, ax=ax)
    if baseline_accuracy is not None:
        ax.axhline(baseline_accuracy, color="black", linestyle="--", linewidth=1,
                   label="unpruned")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    ax.set(xlabel="filters removed in each conv layer", ylabel="accuracy (evaluation split)",
           title=title)
    ax.legend(title=None, fontsize="small")
    return ax


def plot_selection_timing(timings: pd.DataFrame, ax=None, title: str | None = None):
    """Draw the time of a filter-selection step against the number of filters, log-log.

    Every method has its own colour (orange and vermillion, too alike, are never both
    used) and marker.

    Used by: Chapter 4 (exact vs Nystrom similarities).

    Parameters
    ----------
    timings : pandas.DataFrame
        Columns ``filters`` (d), ``method`` (a label such as ``"exact"`` or
        ``"Nystrom, m = 9"``) and ``ms`` (milliseconds); several rows per method and
        ``filters`` are drawn as their median.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots(figsize=(7, 4), layout="constrained")[1]
    colours = sns.color_palette("colorblind")
    methods = list(dict.fromkeys(timings["method"]))
    palette = dict(zip(methods, [colours[i] for i in (0, 1, 2, 4, 5, 9, 7, 8, 6)]))
    sns.lineplot(data=timings, x="filters", y="ms", hue="method", style="method", markers=True,
                 palette=palette, dashes=False, estimator="median", errorbar=None, ax=ax)
    ax.set(xscale="log", yscale="log", xlabel="filters in the layer (d)",
           ylabel="time (ms)", title=title)
    ax.set_xticks(sorted(timings["filters"].unique()))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.legend(title=None, fontsize="small")
    return ax


# --- Chapter 5: fine-tuning with fewer examples -------------------------------------------------

def _by_share(study: pd.DataFrame, labels) -> pd.DataFrame:
    """A fewer-examples study's runs with the ``percent`` of data used and a ``starting point``."""
    start = study["start"].map(labels) if labels else study["start"]
    return study.assign(percent=(100 * study["fraction"]).round().astype(int),
                        **{"starting point": start})


def _starts_in_order(study: pd.DataFrame, labels) -> list:
    """The starting points of a study: those of ``labels`` first, in its order, then the rest."""
    present = list(dict.fromkeys(study["start"]))
    return [s for s in (labels or {}) if s in present] + [s for s in present if s not in (labels or {})]


def _start_styles(study: pd.DataFrame, starts) -> dict:
    """A clearly different colour per start, and a dashed line for starts trained with early
    stopping (a ``patience`` above 0): a different recipe from the fixed-epoch starts."""
    colours = sns.color_palette("colorblind")
    order = (0, 1, 2, 4, 3, 7, 5, 8, 9)  # orange (1) and vermillion (3) are not next to each other
    styles = {}
    for index, start in enumerate(starts):
        runs = study[study["start"] == start]
        early = "patience" in runs and bool((runs["patience"] > 0).any())
        styles[start] = {"color": colours[order[index % len(order)]],
                         "linestyle": "--" if early else "-", "marker": "D" if early else "o"}
    return styles


def plot_fewer_examples(study: pd.DataFrame, labels=None, baseline_accuracy: float | None = None,
                        ax=None, title: str | None = None, confidence: float = 0.95,
                        baseline_label: str = "unpruned, as trained"):
    """Draw accuracy against the share of training data used for fine-tuning, one line per start.

    Each point is the mean over the seeds, with a bar for the t-interval of that mean at
    ``confidence`` (95 %: ``t(0.975, n - 1) s / sqrt(n)`` over the ``n`` seeds; no bar for
    one seed). The lines are moved sideways by a fraction of a percent so that their bars do
    not hide each other, and join only neighbouring shares that were run (a start run on
    fewer shares shows as separate points). Starts trained with early stopping
    (``patience`` above 0) are dashed with diamond markers, the others solid; each start has
    its own colour.

    Used by: Chapter 5.

    Parameters
    ----------
    study : pandas.DataFrame
        One row per run, as :func:`audioprune_lite.fewer_examples.run_fewer_examples`
        returns it: columns ``start``, ``fraction`` (0 to 1) and ``accuracy`` (0 to 1), and
        optionally ``patience``.
    labels : dict of str to str, optional
        Readable names of the starting points, in the order of the legend, e.g.
        :data:`audioprune_lite.fewer_examples.START_LABELS`.
    baseline_accuracy : float, optional
        The unpruned network's accuracy as trained (0 to 1), drawn as a dotted grey line.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    confidence : float
        Of the t-interval.
    baseline_label : str
        Legend entry of the dotted line.

    Returns
    -------
    matplotlib.axes.Axes
    """

    ax = ax or plt.subplots(figsize=(9, 4), layout="constrained")[1]
    frame = _by_share(study, labels).assign(accuracy=100 * study["accuracy"])
    starts = _starts_in_order(study, labels)
    styles = _start_styles(study, starts)
    shifts = np.linspace(-0.8, 0.8, len(starts)) if len(starts) > 1 else [0.0]
    shares = sorted(frame["percent"].unique())
    handles = []
    for shift, start in zip(shifts, starts):
        grouped = frame[frame["start"] == start].groupby("percent")["accuracy"]
        mean = grouped.mean()
        half = grouped.agg(seed_interval, confidence=confidence).fillna(0.0)
        mean, half = mean.reindex(shares), half.reindex(shares)  # NaN breaks the line
        handles.append(ax.errorbar(np.add(shares, shift), mean.to_numpy(), yerr=half.to_numpy(),
                                   markersize=5, capsize=3, label=(labels or {}).get(start, start),
                                   **styles[start]))
    if baseline_accuracy is not None:
        handles.append(ax.axhline(100 * baseline_accuracy, color="grey", linestyle=":",
                                  label=baseline_label))
    ax.set(xlabel="share of the training data used for fine-tuning (%)", ylabel="accuracy (%)",
           title=title, xticks=sorted(frame["percent"].unique()))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return ax


def plot_cost_by_share(study: pd.DataFrame, labels=None, title: str | None = None,
                       log: bool = False):
    """Draw the wall time and the energy of each fine-tuning run against the share of data used.

    Two panels side by side (time left, energy right), one colour per starting point: a
    dot for every run and a line through the median over the seeds at each share (robust
    to a run slowed down by other programs; no interval: the dots show the spread),
    joining only neighbouring shares that were run.
    Runs on 0 % of the data (no fine-tuning) are left out; starts trained with early
    stopping (``patience`` above 0) are dashed with diamond markers.
    Without power counters the energy panel is the time panel in other units (Chapter 6).

    Used by: Chapter 5.

    Parameters
    ----------
    study : pandas.DataFrame
        One row per run, as :func:`audioprune_lite.fewer_examples.run_fewer_examples`
        returns it: columns ``start``, ``fraction``, ``wall_time_s`` and ``energy_kwh``,
        and optionally ``patience``.
    labels : dict of str to str, optional
        Readable names of the starting points, in the order of the legend.
    title : str, optional
        Title of the whole figure.
    log : bool
        Logarithmic vertical axes, for runs whose costs differ by orders of magnitude.

    Returns
    -------
    matplotlib.figure.Figure
    """
    runs = _by_share(study[study["fraction"] > 0], labels)
    runs = runs.assign(energy_wh=1000 * runs["energy_kwh"])
    starts = _starts_in_order(runs, labels)
    styles = _start_styles(runs, starts)
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    panels = (("wall_time_s", "wall time per run (s)", "fine-tuning time (measured)"),
              ("energy_wh", "energy per run (Wh)", "energy, as codecarbon estimates it"))
    shares = sorted(runs["percent"].unique())
    for ax, (column, label, panel) in zip(axes, panels):
        for start in starts:
            own = runs[runs["start"] == start]
            mean = own.groupby("percent")[column].median().reindex(shares)  # NaN breaks the line
            ax.plot(own["percent"], own[column], linestyle="none", marker=styles[start]["marker"],
                    color=styles[start]["color"], alpha=0.35, markersize=4)
            ax.plot(shares, mean.to_numpy(), label=(labels or {}).get(start, start),
                    **styles[start])
        ax.set(xlabel="share of the training data (%)", ylabel=label, title=panel,
               xticks=sorted(runs["percent"].unique()))
        if log:
            ax.set_yscale("log")
    axes[0].legend(fontsize="small")
    if title:
        figure.suptitle(title)
    return figure


# --- Chapter 6: energy and CO2 ------------------------------------------------------------------

def plot_energy_by_phase(phases, ax=None, title: str | None = None):
    """Draw the energy of each phase as a horizontal bar, stacked from its CPU, RAM and GPU parts.

    Used by: Chapter 6.

    Parameters
    ----------
    phases : mapping of str to mapping
        Phase name (one bar, top to bottom) to its ``cpu_energy_kwh``, ``ram_energy_kwh``
        and ``gpu_energy_kwh`` in kWh, e.g. a
        :meth:`audioprune_lite.carbon.CarbonReport.as_series` or a row of the
        fewer-examples table.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    parts = {"CPU": "cpu_energy_kwh", "RAM": "ram_energy_kwh", "GPU": "gpu_energy_kwh"}
    watt_hours = pd.DataFrame({part: [1000 * float(energy[column]) for energy in phases.values()]
                               for part, column in parts.items()}, index=list(phases))
    ax = ax or plt.subplots(figsize=(8, 1 + 0.4 * len(watt_hours)))[1]
    watt_hours.plot.barh(stacked=True, width=0.7, ax=ax)
    ax.invert_yaxis()  # the first phase on top
    ax.set(xlabel="energy (Wh), as codecarbon estimates it", ylabel="", title=title)
    return ax


def plot_energy_against_time(runs: pd.DataFrame, labels=None, ax=None, title: str | None = None):
    """Draw the energy of each run against its duration, and the line of the runs' mean power.

    Runs whose power is estimated from constants sit on the line through the origin whose
    slope is the mean power (:func:`audioprune_lite.carbon.mean_power_w`); measured runs
    scatter around it.

    Used by: Chapter 6.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per run: columns ``start``, ``wall_time_s`` and ``energy_kwh``, as in the
        table of :func:`audioprune_lite.fewer_examples.run_fewer_examples`.
    labels : dict of str to str, optional
        Readable names of the starting points, in the order of the legend.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots()[1]
    frame = runs.assign(energy_wh=1000 * runs["energy_kwh"])
    frame = frame.assign(start=frame["start"].map(labels)) if labels else frame
    order = list(labels.values()) if labels else None
    sns.scatterplot(data=frame, x="wall_time_s", y="energy_wh", hue="start", hue_order=order,
                    style="start", style_order=order, ax=ax)  # a marker per start, too
    watts, longest = mean_power_w(runs), float(runs["wall_time_s"].max())
    ax.plot([0, longest], [0, watts * longest / 3600], color="grey", linestyle=":",
            label=f"{watts:.1f} W")
    ax.set(xlabel="duration (s)", ylabel="energy (Wh)", title=title)
    ax.legend()
    return ax


def plot_emissions_by_grid(intensities: pd.DataFrame, energy_kwh: float, ax=None,
                           title: str | None = None):
    """Draw the CO2 that the same energy emits on different countries' grids, as horizontal bars.

    Used by: Chapter 6.

    Parameters
    ----------
    intensities : pandas.DataFrame
        Rows of :func:`audioprune_lite.carbon.carbon_intensities` (columns ``country``
        and ``g_per_kwh``), one bar each, top to bottom.
    energy_kwh : float
        The energy, in kWh.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots()[1]
    ax.barh(intensities["country"], energy_kwh * intensities["g_per_kwh"], color="tab:green")
    ax.invert_yaxis()  # the first row on top
    ax.set(xlabel="emissions (g CO2eq)", ylabel="", title=title)
    return ax


# --- Chapter 7: the whole study ------------------------------------------------------------------

def plot_pruning_study(runs: pd.DataFrame, ax=None, title: str | None = None):
    """Draw accuracy after fine-tuning per pruned layer set, one marker per criterion.

    Each marker is the mean over seeds, its bar the 95 % t-interval over seeds of that
    mean (``t(0.975, n - 1) x s / sqrt(n)``, as
    :func:`audioprune_lite.metrics.seed_interval` computes it; no bar for one seed). A
    dotted line marks the unpruned network as trained, a dashed one the unpruned network
    fine-tuned alike, with its own 95 % t-interval shaded (the rows with ``pruned ==
    "none"``, methods ``"none"`` and ``"fine-tuned"``).

    Used by: Chapter 7.

    Parameters
    ----------
    runs : pandas.DataFrame
        As :func:`audioprune_lite.reproduce.pruning_study` returns it: columns ``pruned``,
        ``method`` and ``accuracy`` (0 to 1), one row per run.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """


    ax = ax or plt.subplots(figsize=(10, 3.8), layout="constrained")[1]
    unpruned = runs[runs["pruned"] == "none"].assign(accuracy=lambda t: 100 * t["accuracy"])
    pruned = runs[runs["pruned"] != "none"]
    sns.pointplot(data=pruned.assign(accuracy=100 * pruned["accuracy"]), x="pruned", y="accuracy",
                  hue="method", dodge=0.3, errorbar=_t_interval, linestyle="none", capsize=0.1,
                  markers=["o", "s", "^", "D"][:pruned["method"].nunique()], ax=ax)
    for method, style, label in (("none", ":", "unpruned, as trained"),
                                 ("fine-tuned", "--", "unpruned, fine-tuned alike")):
        values = unpruned.loc[unpruned["method"] == method, "accuracy"]
        if len(values):
            ax.axhline(values.mean(), color="grey", linestyle=style, label=label)
        if method == "fine-tuned" and len(values) > 1:
            ax.axhspan(*_t_interval(values), color="grey", alpha=0.15, linewidth=0,
                       label="fine-tuned alike, 95 % t-interval")
    ax.set(ylabel="accuracy after fine-tuning (%)", xlabel="pruned layers", title=title)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))  # clear of the bars
    return ax


def _pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both counts (smaller x, larger y), by x."""
    order = np.lexsort((-y, x))
    front, best = [], -np.inf
    for index in order:
        if y[index] > best:
            front.append(index)
            best = y[index]
    return np.array(front, dtype=int)


def plot_deploy_pareto(table: pd.DataFrame, panels, accuracy: str = "accuracy (%)",
                       interval: str | None = None, colour: str = "network", marker: str = "type",
                       axes=None):
    """Accuracy against costs, one panel per cost, each variant a point, the Pareto front joined.

    Colour tells the networks apart and the marker their type (e.g. float32, float16,
    int8). In each panel the variants that no other beats on both accuracy and that cost
    (the Pareto front) are joined by a grey line; a dashed vertical line marks a limit.

    Used by: Chapter 9.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per variant, with the columns below.
    panels : sequence of (column, label, limit)
        The cost column of ``table`` on the x axis, its axis label (with units), and a
        limit to draw at that x value (None: no line), e.g.
        ``("2021 size (KB)", "parameter size, 2021 rule (KB)", 128.0)``.
    accuracy : str
        The column of accuracy in percent.
    interval : str, optional
        The column holding each accuracy's half-width (points), drawn as vertical bars.
    colour, marker : str
        The columns naming each variant's network and type.
    axes : sequence of matplotlib.axes.Axes, optional
        One per panel.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
    """
    if axes is None:
        axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), sharey=True,
                            layout="constrained")[1]
    axes = np.atleast_1d(axes)
    networks, types = list(dict.fromkeys(table[colour])), list(dict.fromkeys(table[marker]))
    colours = dict(zip(networks, sns.color_palette("colorblind", len(networks))))
    markers = dict(zip(types, ["o", "s", "^", "D", "v"]))
    y = table[accuracy].to_numpy(dtype=float)
    for ax, (column, label, limit) in zip(axes, panels):
        x = table[column].to_numpy(dtype=float)
        for (_, row), xi, yi in zip(table.iterrows(), x, y):
            ax.errorbar(xi, yi, yerr=None if interval is None else row[interval],
                        marker=markers[row[marker]], color=colours[row[colour]], capsize=3,
                        markersize=7, linestyle="none")
        front = _pareto_front(x, y)
        ax.plot(x[front], y[front], color="grey", linewidth=1, zorder=0)
        if limit is not None:
            ax.axvline(limit, color="black", linestyle="--", linewidth=1)
        ax.set(xlabel=label)
    axes[0].set(ylabel=accuracy)
    handles = [plt.Line2D([], [], color=colours[n], marker="o", linestyle="none", label=n)
               for n in networks]
    handles += [plt.Line2D([], [], color="black", marker=markers[t], linestyle="none", label=t)
                for t in types]
    handles += [plt.Line2D([], [], color="grey", label="Pareto front"),
                plt.Line2D([], [], color="black", linestyle="--", label="limit")]
    axes[-1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5),
                    fontsize="small")
    return axes
