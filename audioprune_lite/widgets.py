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
from .pruning import closest_pairs, greedy_steps

__all__ = ["greedy_pass_explorer", "log_mel_explorer"]


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


# Colours of the greedy pass explorer (seaborn's colour-blind palette).
_KEPT, _MARKED, _WAITING, _CURRENT = "#029e73", "#de8f05", "#e8e8e8", "#fff3b0"
_CELL = "padding:1px 10px;text-align:left;border-bottom:1px solid #ddd"


def _greedy_states(filters, neighbours):
    """Replay the greedy pass (:func:`audioprune_lite.pruning.greedy_steps`) for display.

    Returns the state before the pass and after each step, ``(kept in the order kept,
    {marked filter: step that first marked it}, what happened)``, and what happened at
    each step, as a sentence.
    """
    kept, marked, events = [], {}, []
    states = [(list(kept), dict(marked), None)]
    keeps = greedy_steps(filters, neighbours).tolist()
    for step, (i, nearest, keep) in enumerate(zip(filters.tolist(), neighbours.tolist(), keeps),
                                              start=1):
        if not keep:
            events.append(f"filter {i} was marked redundant at step {marked[i]}: skip it")
        else:
            kept.append(i)
            note = " (it stays kept: it was kept before)" if nearest in kept else ""
            events.append(f"filter {i} is not marked: keep {i}, mark {nearest} redundant{note}")
            marked.setdefault(nearest, step)
        states.append((list(kept), dict(marked), events[-1]))
    return states, events


def _filter_box(index: int, kept, marked, current) -> str:
    """One filter of the strip as an inline HTML box, coloured by its state."""
    background = _KEPT if index in kept else _MARKED if index in marked else _WAITING
    colour = "white" if index in kept or index in marked else "black"
    border = f"3px solid {_MARKED if index in kept and index in marked else 'transparent'}"
    outline = {0: "3px solid black", 1: "3px dashed black"}.get(current.get(index), "none")
    return (f'<span style="display:inline-block;width:2.4em;margin:2px;padding:3px 0;'
            f'text-align:center;font-family:monospace;background:{background};color:{colour};'
            f'border:{border};outline:{outline};outline-offset:1px">{index}</span>')


def _greedy_pane(step, filters, neighbours, pair_distances, states, events, title) -> str:
    """The HTML of one step of the greedy pass: the filters' states and the table of pairs."""
    d = len(filters)
    kept, marked, event = states[step]
    said = event[0].upper() + event[1:] if event else ""
    current = {}
    if step:
        current = {int(filters[step - 1]): 0}
        current.setdefault(int(neighbours[step - 1]), 1)
    strip = "".join(_filter_box(i, kept, marked, current) for i in range(d))
    if step == 0:
        headline = (f"<b>Before the pass.</b> The {d} pairs (filter i, its nearest filter n(i)) "
                    "are sorted by distance, closest first. Move the slider to take a step.")
    else:
        pair = f"({filters[step - 1]}, {neighbours[step - 1]})"
        headline = (f"<b>Step {step} of {d}:</b> pair {pair} at distance "
                    f"{pair_distances[step - 1]:.5f}. {said}.")
    if step == d:
        dropped = sorted(set(range(d)) - set(kept))
        headline += (f"<br><b>Done:</b> {len(kept)} of {d} filters kept, {sorted(kept)}; "
                     f"dropped {dropped}.")
    # Up to 16 pairs the whole table is shown, beyond that 13 rows around the current step.
    first = 0 if d <= 16 else max(0, min(step - 7, d - 13))
    rows = range(first, d if d <= 16 else first + 13)
    cells = []
    for row in rows:
        style = f"background:{_CURRENT};font-weight:bold" if row == step - 1 else (
            "color:#999" if row >= step else "")
        outcome = ""
        if row < step:
            outcome = (f"{filters[row]} is marked: skip" if "skip" in events[row]
                       else f"keep {filters[row]}, mark {neighbours[row]}")
        cells.append(f'<tr style="{style}">' + "".join(
            f'<td style="{_CELL}">{value}</td>' for value in
            (row + 1, filters[row], neighbours[row], f"{pair_distances[row]:.5f}", outcome))
            + "</tr>")
    header = "".join(f'<th style="{_CELL}">{name}</th>'
                     for name in ("step", "i", "n(i)", "D[i, n(i)]", "what happens"))
    table = ('<table style="border-collapse:collapse;font-size:85%;font-family:monospace;'
             f'margin:0">' f"<tr>{header}</tr>" + "".join(cells) + "</table>")
    chip = "color:white;padding:0 4px"
    legend = (f'<span style="background:{_KEPT};{chip}">kept</span> '
              f'<span style="background:{_MARKED};{chip}">marked redundant</span> '
              f'<span style="background:{_KEPT};{chip};border:3px solid {_MARKED}">'
              f"kept, marked later: stays kept</span> "
              f'<span style="background:{_WAITING};padding:0 4px">not decided yet</span> '
              "solid outline: filter i of this step; dashed: its nearest filter n(i)")
    return (f'<div style="font-size:90%;line-height:1.4"><div><b>{title}</b></div>'
            f'<div style="min-height:3.2em">{headline}</div><div>{strip}</div>'
            f'<div style="margin:4px 0 8px 0;font-size:85%">{legend}</div>{table}</div>')


def greedy_pass_explorer(distances, title: str = "greedy pass") -> widgets.VBox:
    """A slider through the greedy pass of the cosine method, one pair per step.

    Every step of :func:`audioprune_lite.pruning.greedy_cosine_selection` (rule
    ``"published"``, step by step as :func:`audioprune_lite.pruning.greedy_steps` takes
    them) is drawn in advance as an HTML panel: the filters coloured by state
    (kept, marked redundant, kept and marked later, undecided), the current pair, and the
    table of closest pairs in visiting order with what happened at each step. The slider
    is linked to the panels in the browser (``jslink``), so the explorer also works on the
    static web page, without a running kernel.

    Used by: Chapter 3 (the greedy pass, step by step).

    Parameters
    ----------
    distances : array_like, shape (d, d)
        Cosine distances of one layer's filters, as
        :func:`audioprune_lite.pruning.cosine_distances` returns them.
    title : str
        Shown above the panels, e.g. the layer's name.

    Returns
    -------
    ipywidgets.VBox
        The controls above the panels; display it as a cell's last expression.
    """
    filters, neighbours, pair_distances = closest_pairs(distances)
    states, events = _greedy_states(filters, neighbours)
    d = len(filters)
    panes = [widgets.HTML(_greedy_pane(step, filters, neighbours, pair_distances, states, events,
                                       title))
             for step in range(d + 1)]
    # One tab per step (the tabs can be clicked too). Tab keeps its views when switching;
    # ipywidgets' Stack and Play views raise errors in the static page's widget manager.
    steps = widgets.Tab(panes, selected_index=0, titles=[str(step) for step in range(d + 1)])
    slider = widgets.IntSlider(0, 0, d, 1, description="step", continuous_update=True,
                               layout=widgets.Layout(width="480px"))
    widgets.jslink((slider, "value"), (steps, "selected_index"))  # in the browser: no kernel
    return widgets.VBox([slider, steps])
