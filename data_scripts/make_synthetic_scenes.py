"""Write the course's offline acoustic-scene data set (Chapter 1 listens, Chapter 2 trains).

The clips are synthetic (``audioprune_lite.synthetic``): no download, no recordings. The
folder has the layout of the TAU Urban Acoustic Scenes 2020 Mobile development set, so the
same loader reads it and the real data.

Example::

    python data_scripts/make_synthetic_scenes.py --root data/synthetic_scenes

With the defaults (100 segments per class, 1 s, 44.1 kHz) this writes 1,900 clips: 1,180 for
training (devices a, b, c) and 720 for evaluation (120 on each of a, b, c, s4, s5, s6).

Exit codes: 0 done, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from audioprune_lite.data import load_scenes
from audioprune_lite.synthetic import DEFAULT_DEVICES, make_synthetic_scenes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command-line arguments."""
    parser = argparse.ArgumentParser(
        description="Write a synthetic acoustic-scene data set in the TAU 2020 Mobile layout."
    )
    parser.add_argument("--root", type=Path, default=Path("data/synthetic_scenes"),
                        help="output folder (default: data/synthetic_scenes)")
    parser.add_argument("--clips-per-class", type=int, default=100,
                        help="scene segments per class, each rendered on one or more devices "
                             "(default: 100)")
    parser.add_argument("--duration", type=float, default=1.0,
                        help="clip length in seconds (default: 1.0)")
    parser.add_argument("--sr", type=int, default=44100, help="sample rate in Hz (default: 44100)")
    parser.add_argument("--devices", nargs="+", default=list(DEFAULT_DEVICES),
                        help="device names, the reference device first (default: %(default)s)")
    parser.add_argument("--unseen-devices", nargs="*", default=None,
                        help="devices kept out of training (default: those of s4 s5 s6 that "
                             "are in --devices)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Make the data set and print what was written and how long it took."""
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        root = make_synthetic_scenes(
            args.root,
            clips_per_class=args.clips_per_class,
            duration=args.duration,
            sr=args.sr,
            devices=tuple(args.devices),
            unseen_devices=None if args.unseen_devices is None else tuple(args.unseen_devices),
            seed=args.seed,
            progress=not args.no_progress,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start

    splits = {split: Counter(load_scenes(root, split)["source_label"])
              for split in ("train", "evaluate")}
    total = sum(sum(counts.values()) for counts in splits.values())
    print(f"Wrote {total} clips of {args.duration:g} s at {args.sr} Hz to {root} "
          f"in {seconds:.1f} s")
    for split, counts in splits.items():
        by_device = ", ".join(f"{device}: {count}" for device, count in sorted(counts.items()))
        print(f"  {split:<8} {sum(counts.values()):>5} clips ({by_device})")
    print("  lists: meta.csv, evaluation_setup/fold1_{train,evaluate,test}.csv; notes: README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
