"""The figures the book shows, drawn with matplotlib and seaborn.

Each function draws into a matplotlib ``Axes`` it is given (or makes a figure) and
returns it, so a notebook cell stays one line and a student can restyle the result.
"""

from __future__ import annotations

import librosa
import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .features import LogMelConfig, log_mel, mel_filter_bank

__all__ = [
    "plot_confusion",
    "plot_device_accuracy",
    "plot_filter_bank",
    "plot_history",
    "plot_log_mel",
    "plot_log_mel_grid",
    "plot_spectrum",
    "plot_waveform",
    "use_book_style",
]


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


def plot_spectrum(y: np.ndarray, sr: int, ax=None, title: str | None = None, label=None):
    """Draw the magnitude spectrum of a whole signal in dB against frequency (log axis).

    The spectrum is the magnitude of the real FFT with a Hann window, in dB relative to
    the largest value, so signals of different levels can share one plot.

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

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots()[1]
    magnitude = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    frequencies = np.fft.rfftfreq(len(y), 1 / sr)
    decibels = librosa.amplitude_to_db(magnitude, ref=np.max, top_db=100)
    ax.semilogx(frequencies[1:], decibels[1:], linewidth=0.6, label=label)
    ax.set(xlabel="frequency (Hz)", ylabel="magnitude (dB re max)", title=title,
           xlim=(20, sr / 2))
    return ax


def plot_log_mel(
    features: np.ndarray, config: LogMelConfig = LogMelConfig(), ax=None,
    title: str | None = None, colorbar: bool = True,
):
    """Draw a log-mel spectrogram with time in seconds and frequency on the mel scale.

    Used by: Chapter 1 (and later chapters to show network inputs).

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
        features, sr=config.sr, hop_length=config.hop_length, x_axis="time", y_axis="mel",
        fmin=config.fmin, fmax=config.top_frequency, ax=ax, cmap="magma",
    )
    ax.set(title=title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, format="%+.0f dB")
    return ax


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
            feature, sr=config.sr, hop_length=config.hop_length, x_axis="time", y_axis="mel",
            fmin=config.fmin, fmax=config.top_frequency, ax=ax, cmap="magma",
            vmin=low, vmax=high,
        )
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

    The restored (best validation loss) epoch is marked with a dotted line.

    Used by: Chapter 2 (the baseline) and Chapter 3 (fine-tuning).

    Parameters
    ----------
    history : audioprune_lite.train.History
    ax_loss, ax_accuracy : matplotlib.axes.Axes, optional
        Made side by side when not given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax_loss is None or ax_accuracy is None:
        _, (ax_loss, ax_accuracy) = plt.subplots(1, 2, figsize=(10, 3))
    frame = history.as_frame()
    sns.lineplot(data=frame[["train_loss", "val_loss"]], ax=ax_loss, markers=True, dashes=False)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    sns.lineplot(data=frame["val_accuracy"], ax=ax_accuracy, marker="o")
    ax_accuracy.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
    for ax in (ax_loss, ax_accuracy):
        ax.axvline(history.best_epoch, color="grey", linestyle=":", label="restored epoch")
    ax_accuracy.legend(loc="lower right")
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
