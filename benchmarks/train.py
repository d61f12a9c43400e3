"""Print the DCASE 2021 baseline's training speed and inference latency on this machine.

Training examples per second (forward, backward and Adam step, batch 32) and inference
latency at batch 1 and 32, for 1-s inputs (40 x 51, the book's clips) and 10-s inputs
(40 x 500, TAU's). Run: ``python benchmarks/train.py``.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
import torch

from audioprune_lite.metrics import measure_latency
from audioprune_lite.models import DCASE21Baseline
from audioprune_lite.train import fit

INPUTS = {"1 s": 51, "10 s": 500}


def training_examples_per_second(frames: int, examples: int = 320, epochs: int = 2) -> float:
    """Time ``fit`` on random data (validation on 32 examples, a small share of the time)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(examples + 32, 1, 40, frames)).astype(np.float32)
    y = rng.integers(0, 10, size=examples + 32)
    torch.manual_seed(0)
    model = DCASE21Baseline()
    start = time.perf_counter()
    fit(model, (X[:examples], y[:examples]), (X[examples:], y[examples:]), epochs=epochs,
        batch_size=32, device="cpu", progress=False)
    return examples * epochs / (time.perf_counter() - start)


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    model = DCASE21Baseline().eval()
    for name, frames in INPUTS.items():
        rate = training_examples_per_second(frames, examples=320 if frames < 100 else 96)
        print(f"{name} clips: training {rate:7.1f} examples/s ({1000 / rate:5.1f} ms per example)")
        for batch in (1, 32):
            latency = measure_latency(model, (batch, 1, 40, frames), repeats=20)
            print(f"   inference batch {batch:2d}: median {1000 * latency['median_s']:7.2f} ms "
                  f"(p10 {1000 * latency['p10_s']:.2f}, p90 {1000 * latency['p90_s']:.2f}), "
                  f"{1000 * latency['median_s'] / batch:6.2f} ms per clip")


if __name__ == "__main__":
    main()
