"""Print the speed of making the book's default data set and of log-mel extraction.

Budgets (on 2 cores): data set plus features under 90 s; log-mel extraction at
least 300x faster than real time. Run: ``python benchmarks/data.py`` (or ``make bench``).
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from audioprune_lite.data import load_scenes
from audioprune_lite.features import LogMelConfig, extract, log_mel
from audioprune_lite.synthetic import make_synthetic_scenes


def main() -> None:
    config = LogMelConfig()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        root = make_synthetic_scenes(Path(folder) / "scenes", progress=False)
        generate_s = time.perf_counter() - start
        table = load_scenes(root, "all")
        start = time.perf_counter()
        X, _ = extract(table, config, progress=False)
        extract_s = time.perf_counter() - start
    clip_s = X.shape[-1] * config.hop_length / config.sr
    audio_s = len(table) * clip_s
    print(f"default data set: {len(table)} clips of about {clip_s:.1f} s "
          f"({audio_s / 60:.1f} min of audio)")
    print(f"  generate: {generate_s:6.1f} s")
    print(f"  features: {extract_s:6.1f} s  "
          f"(reading + log-mel, {audio_s / extract_s:.0f}x real time)")
    print(f"  total:    {generate_s + extract_s:6.1f} s  (budget 90 s)")

    ten_seconds = np.random.default_rng(0).normal(scale=0.1, size=10 * config.sr).astype(np.float32)
    log_mel(ten_seconds, config)  # warm-up
    repeats = 50
    start = time.perf_counter()
    for _ in range(repeats):
        log_mel(ten_seconds, config)
    per_clip = (time.perf_counter() - start) / repeats
    print(f"log-mel of a 10 s clip: {per_clip * 1000:.1f} ms, {10 / per_clip:.0f}x real time "
          "(budget: at least 300x)")


if __name__ == "__main__":
    main()
