"""Print how fast the book's network runs in PyTorch and in ONNX Runtime, pruned or not, and its files' sizes.

The networks are the DCASE 2021 baseline trained on the book's default data
(:func:`audioprune_lite.experiments.trained_baseline`) and the C1+C2+C3 network pruned by
cosine and fine-tuned as chapter 7 does it (2 epochs, seed 0: the same cache entry, so it is
trained only when chapter 7 has not run). Batch-1 latency on one clip is measured for nine
variants: in PyTorch the unpruned network, the same network with the pruned filters masked
(``mask_filters``, the same plan) and the pruned one; in ONNX Runtime the three as float32
files, the unpruned network at float16, and the unpruned and pruned networks at int8
(calibrated on 64 training clips). All variants are timed interleaved
(:func:`audioprune_lite.deploy.latency_table`), once per thread count; each line gives the
median and its 95 % interval in milliseconds. The files' sizes and the MACs per clip follow.
The machine, the date and the versions come first. The files are written to a temporary
folder, removed at the end.

Run: ``python benchmarks/deploy.py`` (well under a minute once the networks are cached);
``--clip-seconds 10`` times 10-s clips (the calibration clips repeated to that length),
``--threads 1,2,4`` other thread counts, ``--repeats 30`` fewer rounds.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from audioprune_lite.deploy import export_onnx, latency_table, quantise_int8, to_float16
from audioprune_lite.experiments import cached_fit, default_features, trained_baseline
from audioprune_lite.features import LogMelConfig
from audioprune_lite.metrics import count_macs
from audioprune_lite.pruning import mask_filters, prune_model, pruning_plans
from audioprune_lite.reproduce import LAYER_SETS

PRUNED = "C1+C2+C3"
CALIBRATION_CLIPS = 64


def parse_args() -> argparse.Namespace:
    """The command line's settings: ``repeats``, ``threads`` (a comma-separated text) and ``clip_seconds``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100,
                        help="timed rounds of every variant per thread count (default 100)")
    parser.add_argument("--threads", default="1,2",
                        help="comma-separated thread counts, each timed separately (default 1,2)")
    parser.add_argument("--clip-seconds", type=int, choices=(1, 10), default=1,
                        help="length of the timed clip in seconds (default 1)")
    return parser.parse_args()


def cpu_model() -> str:
    """The CPU's name from ``/proc/cpuinfo``, or what :mod:`platform` knows where there is none.

    Returns
    -------
    str
    """
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def networks(features) -> dict:
    """The unpruned, masked and pruned networks, as PyTorch modules.

    Parameters
    ----------
    features : SceneFeatures
        The book's default data.

    Returns
    -------
    dict of str to torch.nn.Module
        ``"unpruned"`` (the trained baseline), ``"masked"`` (the baseline with the filters
        that cosine pruning removes masked) and ``"pruned"`` (pruned and fine-tuned as
        chapter 7 does it).
    """
    baseline, _, _ = trained_baseline(features, progress=False)
    plan = pruning_plans(baseline, LAYER_SETS[PRUNED])["cosine"]
    pruned, _, _ = cached_fit(
        prune_model(baseline, plan), (features.X_train, features.y_train),
        (features.X_val, features.y_val), name=f"pruned-{PRUNED}-cosine", progress=False,
        epochs=2, lr=1e-3, batch_size=32, seed=0)
    return {"unpruned": baseline, "masked": mask_filters(baseline, plan).eval(), "pruned": pruned}


def calibration_clips(X: np.ndarray, frames: int, seed: int = 0) -> np.ndarray:
    """``CALIBRATION_CLIPS`` training clips drawn at random, repeated along time to ``frames``.

    Parameters
    ----------
    X : numpy.ndarray
        Training features (N, 1, n_mels, clip frames).
    frames : int
        Frames of the timed clip.
    seed : int

    Returns
    -------
    numpy.ndarray
        Shape (``CALIBRATION_CLIPS``, 1, n_mels, frames).
    """
    chosen = X[np.random.default_rng(seed).choice(len(X), CALIBRATION_CLIPS, replace=False)]
    return np.tile(chosen, (1, 1, 1, math.ceil(frames / X.shape[-1])))[..., :frames]


def onnx_files(models: dict, folder: Path, input_shape, calibration: np.ndarray) -> dict:
    """Export the ONNX variants: float32 of every network, float16 unpruned, int8 unpruned and pruned.

    Parameters
    ----------
    models : dict of str to torch.nn.Module
        As :func:`networks` gives them.
    folder : Path
        Where the files go.
    input_shape : tuple of int
        One clip, batch dimension included.
    calibration : numpy.ndarray
        Inputs of ``input_shape`` (any batch) for the int8 copies.

    Returns
    -------
    dict of str to Path
        Variant name (``"ONNX float32 pruned"``, ...) to its file.
    """
    float32 = {name: export_onnx(model, folder / f"{name}-float32.onnx", input_shape)
               for name, model in models.items()}
    files = {f"ONNX float32 {name}": path for name, path in float32.items()}
    files["ONNX float16 unpruned"] = to_float16(float32["unpruned"], folder / "unpruned-float16.onnx")
    for name in ("unpruned", "pruned"):
        files[f"ONNX int8 {name}"] = quantise_int8(float32[name], folder / f"{name}-int8.onnx",
                                                   calibration)
    return files


def print_latency(variants: dict, input_shape, threads: int, repeats: int) -> None:
    """Time ``variants`` interleaved with ``threads`` threads and print one line per variant.

    Parameters
    ----------
    variants : dict of str to torch.nn.Module or Path
    input_shape : tuple of int
    threads, repeats : int
        As :func:`audioprune_lite.deploy.latency_table` takes them.
    """
    table = latency_table(variants, input_shape, threads=threads, repeats=repeats)
    print(f"\n{threads} thread{'s' if threads > 1 else ''}, {repeats} rounds: median ms "
          "[95 % interval of the median]")
    for name, row in table.iterrows():
        print(f"  {name:<24}{row['median_ms']:9.3f}  [{row['low_ms']:.3f}, {row['high_ms']:.3f}]")


def main() -> None:
    args = parse_args()
    thread_counts = [int(count) for count in args.threads.split(",")]
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; "
          f"{datetime.datetime.now().isoformat(sep=' ', timespec='minutes')}; "
          f"Python {platform.python_version()}, torch {torch.__version__}, "
          f"onnxruntime {onnxruntime.__version__}")
    features = default_features(progress=False)
    models = networks(features)
    config = LogMelConfig()
    frames = config.n_frames(args.clip_seconds * config.sr)
    input_shape = (1, *features.X_train.shape[1:3], frames)
    print(f"input: one {args.clip_seconds}-s clip, {input_shape[2]} mel bands x {frames} frames")
    with tempfile.TemporaryDirectory(prefix="audioprune-deploy-") as folder:
        files = onnx_files(models, Path(folder), input_shape,
                           calibration_clips(features.X_train, frames))
        variants = {f"PyTorch {name}": model for name, model in models.items()} | files
        for threads in thread_counts:
            print_latency(variants, input_shape, threads, args.repeats)
        print("\nfile sizes (bytes)")
        for name, path in files.items():
            print(f"  {name:<24}{path.stat().st_size:9,d}")
    print("\nMACs per clip")
    for name, model in models.items():
        print(f"  {name:<24}{count_macs(model, input_shape):13,d}")


if __name__ == "__main__":
    main()
