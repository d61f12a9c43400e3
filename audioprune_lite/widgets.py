"""Interactive explorers for the book's notebooks (ipywidgets).

On the static web page a widget shows its initial state; moving the sliders needs a
running kernel (Binder, Colab, Thebe or a local Jupyter).
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .features import LogMelConfig, log_mel
from .plots import plot_log_mel

__all__ = ["log_mel_explorer"]


def log_mel_explorer(clips: dict, sr: int = 44100) -> widgets.VBox:
    """Sliders for window length, hop length and mel bands over a log-mel spectrogram.

    The FFT length follows the window: the next power of two at least as long.

    Used by: Chapter 1 ("How each parameter changes the picture").

    Parameters
    ----------
    clips : dict of str to numpy.ndarray
        Clip name (e.g. the scene label) to mono signal at ``sr``; a drop-down chooses one.
    sr : int
        Sample rate of the clips in Hz.

    Returns
    -------
    ipywidgets.VBox
        The controls above the plot; display it as a cell's last expression.
    """
    style = {"description_width": "120px"}
    layout = widgets.Layout(width="420px")
    controls = {
        "name": widgets.Dropdown(options=list(clips), description="clip", style=style),
        "window_ms": widgets.IntSlider(40, 5, 200, 5, description="window (ms)",
                                       style=style, layout=layout),
        "hop_ms": widgets.IntSlider(20, 5, 100, 5, description="hop (ms)",
                                    style=style, layout=layout),
        "n_mels": widgets.IntSlider(40, 8, 128, 8, description="mel bands",
                                    style=style, layout=layout),
    }

    def draw(name, window_ms, hop_ms, n_mels):
        window = round(window_ms * sr / 1000)
        config = LogMelConfig(
            sr=sr, win_length=window, hop_length=round(hop_ms * sr / 1000),
            n_fft=max(256, 1 << int(np.ceil(np.log2(window)))), n_mels=n_mels,
        )
        features = log_mel(clips[name], config)
        ax = plot_log_mel(features, config, title=(
            f"{name}: {config.n_mels} x {features.shape[1]} values "
            f"(window {window} samples, hop {config.hop_length}, n_fft {config.n_fft})"
        ))
        ax.figure.set_size_inches(8, 3)
        plt.show()

    output = widgets.interactive_output(draw, controls)
    box = widgets.VBox([widgets.HBox([controls["name"]]), controls["window_ms"],
                        controls["hop_ms"], controls["n_mels"], output])
    return box
