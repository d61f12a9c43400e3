"""The command line: ``audioprune`` (or ``python -m audioprune_lite``).

Each subcommand calls the same functions as the book's chapters; Chapter 7 and the
README show them at work. Exit codes: 0 success, 1 a failure while running (the message
says what, and names the extra to install when an optional package is missing), 2 wrong
arguments, 3 no data where ``--data`` points (the message says how to get it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """examples:
  audioprune prepare                     make the offline data set and its features
  audioprune train --out baseline.pt     train the DCASE 2021 baseline (cached)
  audioprune prune --model baseline.pt --layers conv1,conv2,conv3 --out pruned.pt
  audioprune finetune --model pruned.pt --epochs 5 --fraction 0.25 --out tuned.pt
  audioprune reproduce                   the papers' study on the offline data -> results/
  audioprune reproduce --data data/tau2020mobile --clip-seconds 10 --epochs 200
  audioprune report                      print the tables of a finished reproduce run

Data: without --data the book's offline scenes are made on first use. For TAU Urban
Acoustic Scenes 2020 Mobile run python data_scripts/download_tau2020_mobile.py first.
A GPU is used for training when one is present."""


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, help="a data set in the TAU 2020 Mobile or the "
                        "ESC-50 layout (default: the book's offline scenes)")
    parser.add_argument("--clip-seconds", type=float, help="trim or pad clips to this length")


def _features(args):
    from .experiments import default_features

    return default_features(args.data, duration=args.clip_seconds)


def _accuracy_line(model, features) -> str:
    from .train import evaluate

    devices = features.evaluate.get("source_label")  # ESC-50 has no devices
    result = evaluate(model, features.X_eval, features.y_eval, devices=devices)
    line = (f"evaluation accuracy {100 * result['accuracy']:.1f} % (log loss "
            f"{result['log_loss']:.3f})")
    if devices is None:
        return line
    per_device = ", ".join(f"{d} {100 * a:.1f}" for d, a in result["per_device_accuracy"].items())
    return f"{line}; per device: {per_device}; unseen: {', '.join(features.unseen)}"


def _cost_line(model, features) -> str:
    from .metrics import count_macs, count_params

    shape = (1, *features.X_eval.shape[1:])
    return f"{count_params(model):,} parameters, {count_macs(model, shape) / 1e6:.1f} M MACs per clip"


def prepare(args) -> int:
    features = _features(args)
    print(f"{len(features.classes)} classes; training {len(features.y_train)} clips, validation "
          f"{len(features.y_val)}, evaluation {len(features.y_eval)}; input {features.X_train.shape[1:]}")
    if features.seen or features.unseen:
        print(f"seen devices {', '.join(features.seen)}; unseen {', '.join(features.unseen)}")
    return 0


def train(args) -> int:
    from .experiments import trained_baseline
    from .train import save_model

    features = _features(args)
    overrides = {} if args.epochs is None else {"epochs": args.epochs}
    model, history, cached = trained_baseline(features, **overrides)
    save_model(model, args.out)
    print(f"{'read from the cache' if cached else 'trained'} in {history.wall_time_s:.0f} s "
          f"(best epoch {history.best_epoch}); {_cost_line(model, features)}")
    print(_accuracy_line(model, features))
    print(f"saved {args.out}")
    return 0


def prune(args) -> int:
    from .pruning import prune_model, pruning_plans
    from .train import load_model, save_model

    model = load_model(args.model)
    layers = [name.strip() for name in args.layers.split(",") if name.strip()]
    plans = pruning_plans(model, layers, methods=[args.method], ratio=args.ratio, seed=args.seed)
    pruned = prune_model(model, plans[args.method])
    features = _features(args)
    print(f"before: {_cost_line(model, features)}")
    print(f"after:  {_cost_line(pruned, features)} (filters {pruned.config['channels']})")
    print(f"before fine-tuning: {_accuracy_line(pruned, features)}")
    save_model(pruned, args.out)
    print(f"saved {args.out}")
    return 0


def finetune(args) -> int:
    from .experiments import cached_fit
    from .train import load_model, save_model, stratified_subset

    model = load_model(args.model)
    features = _features(args)
    subset = stratified_subset(features.y_train, args.fraction, args.seed)
    if len(subset) == 0:
        raise ValueError(f"--fraction {args.fraction} leaves no training examples")
    tuned, history, cached = cached_fit(
        model, (features.X_train[subset], features.y_train[subset]),
        (features.X_val, features.y_val), name=f"finetuned-{Path(args.model).stem}",
        epochs=args.epochs, seed=args.seed)
    print(f"{'read from the cache' if cached else 'fine-tuned'} on {len(subset)} clips in "
          f"{history.wall_time_s:.0f} s")
    print(_accuracy_line(tuned, features))
    save_model(tuned, args.out)
    print(f"saved {args.out}")
    return 0


def reproduce(args) -> int:
    from .reproduce import reproduce as run

    seeds = tuple(int(s) for s in args.seeds.split(","))
    result = run(args.data, clip_seconds=args.clip_seconds, baseline_epochs=args.epochs,
                 finetune_epochs=args.finetune_epochs, seeds=seeds,
                 fewer_examples=not args.no_fewer_examples, country_iso_code=args.country,
                 out_dir=args.out)
    print(f"\nbaseline accuracy {100 * result['baseline_accuracy']:.1f} %")
    print(result["pruning_summary"].round(1).to_string())
    energy = result["energy"]
    print("\nenergy of this run per phase (kWh): " + ", ".join(
        f"{name} {row['energy (kWh)']:.2e}"
        + (f" (read {row['read from the cache']} of {row['training runs']} training runs "
           "from the cache)" if row["read from the cache"] else "")
        for name, row in energy.iterrows()))
    print(f"tables written to {result['out_dir']}/ (beside the papers' figures: beside_paper.md)")
    return 0


def report(args) -> int:
    import pandas as pd

    summary = args.results / "pruning_summary.md"
    if not summary.is_file():
        print(f"no results in {args.results}: run `audioprune reproduce --out {args.results}` first",
              file=sys.stderr)
        return 1
    print(summary.read_text())
    beside = args.results / "beside_paper.md"
    if beside.is_file():
        print(beside.read_text())
    for name in ("fewer_examples.csv", "energy.csv"):
        path = args.results / name
        if path.is_file():
            print(f"{name}:\n{pd.read_csv(path).round(4).to_string(index=False)}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .pruning import CRITERIA

    parser = argparse.ArgumentParser(
        prog="audioprune", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train, prune and fine-tune the DCASE 2021 baseline, and measure its "
                    "energy: the steps of the audioprune course book.", epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    command = commands.add_parser("prepare", help="make or locate the data, extract features")
    _data_options(command)
    command.set_defaults(run=prepare)

    command = commands.add_parser("train", help="train the DCASE 2021 baseline (cached)")
    _data_options(command)
    command.add_argument("--epochs", type=int, help="training epochs (default: the book's)")
    command.add_argument("--out", type=Path, default=Path("baseline.pt"), help="model file")
    command.set_defaults(run=train)

    command = commands.add_parser("prune", help="remove filters from a trained model")
    _data_options(command)
    command.add_argument("--model", type=Path, required=True, help="model file to prune")
    command.add_argument("--layers", default="conv1,conv2,conv3", help="conv layers, comma-separated")
    criteria = "; ".join(f"{name}: {criterion.description}" for name, criterion in CRITERIA.items())
    command.add_argument("--method", default="cosine", choices=list(CRITERIA),
                         help=f"the criterion choosing the filters (default cosine). {criteria}")
    command.add_argument("--ratio", type=float,
                         help="share of filters to remove per layer (default: as many as the "
                              "cosine greedy pass removes)")
    command.add_argument("--seed", type=int, default=0, help="seed of the random criterion")
    command.add_argument("--out", type=Path, default=Path("pruned.pt"))
    command.set_defaults(run=prune)

    command = commands.add_parser("finetune", help="fine-tune a (pruned) model")
    _data_options(command)
    command.add_argument("--model", type=Path, required=True)
    command.add_argument("--epochs", type=int, default=5)
    command.add_argument("--fraction", type=float, default=1.0, help="share of the training data")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--out", type=Path, default=Path("finetuned.pt"))
    command.set_defaults(run=finetune)

    command = commands.add_parser("reproduce", help="the papers' study in one run, tables to --out")
    _data_options(command)
    command.add_argument("--epochs", type=int, help="baseline training epochs (default: the book's)")
    command.add_argument("--finetune-epochs", type=int, default=5)
    command.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    command.add_argument("--no-fewer-examples", action="store_true",
                         help="skip the fewer-examples sweep")
    command.add_argument("--country", default="GBR", help="ISO code of the electricity grid")
    command.add_argument("--out", type=Path, default=Path("results"))
    command.set_defaults(run=reproduce)

    command = commands.add_parser("report", help="print the tables of a reproduce run")
    command.add_argument("--results", type=Path, default=Path("results"))
    command.set_defaults(run=report)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    from .data import DataNotFoundError
    from .extras import MissingExtraError

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except DataNotFoundError as error:
        print(f"audioprune: {error}", file=sys.stderr)
        return 3
    except (MissingExtraError, ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"audioprune {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
