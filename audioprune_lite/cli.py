"""The command line: ``audioprune`` (or ``python -m audioprune_lite``).

Each subcommand calls the same functions as the book's chapters; Chapter 7 and the
README show them at work. Every error is one line on standard error that names the file
or option and says what to do, never a traceback. Exit codes: 0 success; 1 a failure while
running (a file that cannot be read or written, a damaged model, a missing optional
package: the message names the extra to install); 2 wrong arguments (a value out of range,
a layer the model lacks, settings that would prune nothing); 3 no data where ``--data``
points (the message says how to get it); 130 interrupted (Ctrl-C; what finished is kept in
the cache, so the same command goes on from there).

Outputs are checked before any work (an ``--out`` that cannot be written fails at once,
not after an hour of training), and a result that cannot be cached is still written to
``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import errno
import math
import os
import platform
import sys
import tempfile
import warnings
from pathlib import Path

EPILOG = """examples:
  audioprune prepare                     make the offline data set and its features
  audioprune train --out baseline.pt     train the DCASE 2021 baseline (cached)
  audioprune prune --model baseline.pt --layers conv1,conv2,conv3 --out pruned.pt
  audioprune finetune --model pruned.pt --epochs 5 --fraction 0.25 --out tuned.pt
  audioprune export --model tuned.pt --float16 --int8 --out onnx
  audioprune reproduce                   the papers' study on the offline data -> results/
  audioprune reproduce --data data/tau2020mobile --clip-seconds 10 --epochs 200
  audioprune report                      print the tables of a finished reproduce run

Data: without --data the book's offline scenes are made on first use. For TAU Urban
Acoustic Scenes 2020 Mobile run python data_scripts/download_tau2020_mobile.py first.
A GPU is used for training when one is present."""


LAYER_SET_NAMES = ("C1", "C2", "C3", "C1+C2", "C2+C3", "C1+C2+C3")
"""The rows of the papers' table (:data:`audioprune_lite.reproduce.LAYER_SETS`), named here so
that parsing the arguments imports nothing heavy."""

MAX_CLIP_SECONDS = 600.0
"""The longest ``--clip-seconds`` accepted: ten minutes (the data sets' clips are 1 to 10 s;
a clip of 1e9 s would need terabytes of memory)."""


class UsageError(ValueError):
    """Arguments that cannot work, found after parsing (e.g. a layer the model lacks): exit 2."""


def _number(kind, text: str, *, low: float, high: float = math.inf, low_open: bool = True,
            high_open: bool = False):
    """``kind(text)`` if it lies between ``low`` and ``high``, else argparse's type error."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}")
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if not math.isfinite(value) or below or above:
        interval = (f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
                    if math.isfinite(high) else f"{'above' if low_open else 'at least'} {low:g}")
        raise argparse.ArgumentTypeError(f"{text} is out of range: give a value {interval}")
    return value


def _positive_int(text: str) -> int:
    return _number(int, text, low=0)


def _repeats(text: str) -> int:
    return _number(int, text, low=2, low_open=False)


def _clip_seconds(text: str) -> float:
    return _number(float, text, low=0, high=MAX_CLIP_SECONDS)


def _ratio(text: str) -> float:
    return _number(float, text, low=0, high=1, high_open=True)


def _fraction(text: str) -> float:
    return _number(float, text, low=0, high=1)


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} names nothing: give comma-separated names")
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"{text!r} names something twice")
    return names


def _seeds(text: str) -> tuple[int, ...]:
    seeds = _names(text)
    try:
        return tuple(int(seed) for seed in seeds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: seeds are comma-separated integers, e.g. 0,1,2")


def _fractions(text: str) -> tuple[float, ...]:
    return tuple(_fraction(share) for share in _names(text))


def _layer_sets(text: str) -> tuple[str, ...]:
    names = tuple(_names(text))
    unknown = [name for name in names if name not in LAYER_SET_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown layer sets {', '.join(unknown)}: choose from "
                                         f"{', '.join(LAYER_SET_NAMES)}")
    return names


def _resource(text: str) -> float:
    return _number(float, text, low=0, low_open=False)


def _thread_counts(text: str) -> tuple[int, ...]:
    return tuple(_positive_int(count) for count in _names(text))


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, help="a data set in the TAU 2020 Mobile or the "
                        "ESC-50 layout (default: the book's offline scenes)")
    parser.add_argument("--clip-seconds", type=_clip_seconds,
                        help=f"trim or pad clips to this length (at most {MAX_CLIP_SECONDS:g} s)")


def _say(text: str = "") -> None:
    """Print to standard output; if its reader has stopped reading (``| head``), drop the rest.

    The work goes on: a closed pipe must not stop ``train`` before it saves ``--out``.
    """
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _check_writable(path: Path, *, folder: bool = False) -> None:
    """Fail now, before any work, if ``path`` cannot be written: a folder where a file
    goes (or the reverse), a read-only place.

    Raises
    ------
    OSError
        Naming ``path``.
    """
    if path.exists() and path.is_dir() != folder:
        kind = "a file" if folder else "a folder"
        raise OSError(f"{path} is {kind}: give --out {'a folder' if folder else 'a file name'}")
    where = path if folder else path.parent
    try:
        where.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from error


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
    _say(f"{len(features.classes)} classes; training {len(features.y_train)} clips, validation "
         f"{len(features.y_val)}, evaluation {len(features.y_eval)}; input {features.X_train.shape[1:]}")
    if features.seen or features.unseen:
        _say(f"seen devices {', '.join(features.seen)}; unseen {', '.join(features.unseen)}")
    return 0


def train(args) -> int:
    from .experiments import trained_baseline
    from .train import save_model

    _check_writable(args.out)
    features = _features(args)
    overrides = {} if args.epochs is None else {"epochs": args.epochs}
    model, history, cached = trained_baseline(features, **overrides)
    save_model(model, args.out)
    _say(f"{'read from the cache' if cached else 'trained'} in {history.wall_time_s:.0f} s "
         f"(best epoch {history.best_epoch}); {_cost_line(model, features)}")
    _say(_accuracy_line(model, features))
    _say(f"saved {args.out}")
    return 0


def prune(args) -> int:
    from .pruning import prune_model, pruning_plans
    from .train import load_model, save_model

    _check_writable(args.out)
    model = load_model(args.model)
    try:  # the method and the ratio are checked by the parser: what is left is a layer
        plans = pruning_plans(model, args.layers, methods=[args.method], ratio=args.ratio,
                              seed=args.seed)
    except ValueError as error:
        raise UsageError(f"--layers: {error}") from error
    pruned = prune_model(model, plans[args.method])
    before, after = model.config["channels"], pruned.config["channels"]
    if before == after:
        how = f"--ratio {args.ratio}" if args.ratio else f"the {args.method} criterion's own count"
        raise UsageError(f"--layers {','.join(args.layers)} with {how} removes no filter "
                         f"(the layers keep {before} filters): ask for a larger --ratio")
    features = _features(args)
    _say(f"before: {_cost_line(model, features)}")
    _say(f"after:  {_cost_line(pruned, features)} (filters {after})")
    _say(f"before fine-tuning: {_accuracy_line(pruned, features)}")
    save_model(pruned, args.out)
    _say(f"saved {args.out}")
    return 0


def finetune(args) -> int:
    from .experiments import cached_fit
    from .train import load_model, save_model, stratified_subset

    _check_writable(args.out)
    model = load_model(args.model)
    features = _features(args)
    subset = stratified_subset(features.y_train, args.fraction, args.seed)
    if len(subset) == 0:
        raise UsageError(f"--fraction {args.fraction} leaves no training examples "
                         f"of the {len(features.y_train)}")
    tuned, history, cached = cached_fit(
        model, (features.X_train[subset], features.y_train[subset]),
        (features.X_val, features.y_val), name=f"finetuned-{Path(args.model).stem}",
        epochs=args.epochs, seed=args.seed)
    save_model(tuned, args.out)
    _say(f"{'read from the cache' if cached else 'fine-tuned'} on {len(subset)} clips in "
         f"{history.wall_time_s:.0f} s")
    _say(_accuracy_line(tuned, features))
    _say(f"saved {args.out}")
    return 0


def export(args) -> int:
    """ONNX files of ``--model`` in ``--out``, and a table of them (:func:`_deployment_table`)."""
    from .deploy import export_onnx, quantise_int8, to_float16
    from .extras import require
    from .train import load_model

    _check_writable(args.out, folder=True)
    for module in ("onnx", "onnxscript", "onnxruntime"):  # the [deploy] extra, before any work
        require(module, "deploy")
    model = load_model(args.model)
    features = _features(args)
    name = args.model.stem
    float32 = export_onnx(model, args.out / f"{name}.onnx", (1, *features.X_eval.shape[1:]))
    files = {float32: "float32"}
    if args.float16:
        files[to_float16(float32, args.out / f"{name}.float16.onnx")] = "float16"
    if args.int8:
        calibration = features.X_train[:args.calibration]  # training clips, never evaluation ones
        files[quantise_int8(float32, args.out / f"{name}.int8.onnx", calibration)] = "int8"
    table = _deployment_table(model, files, features, args.threads, args.repeats)
    _say(table.to_markdown(floatfmt=".1f", intfmt=","))
    _say(f"\nlatency measured on this machine ({platform.processor() or platform.machine()}, "
         f"{os.cpu_count()} cores) on {datetime.date.today().isoformat()}: batch 1, median of "
         f"{args.repeats} runs (low-high: the median's 95 % interval, or the runs' range when "
         "they are too few for one)")
    _say("sizes by the DCASE rules of audioprune_lite.deploy.DCASE_RULES (the 2022 and 2024 "
         "MAC limits are for a 1-s clip)")
    return 0


def _deployment_table(model, files: dict, features, threads, repeats: int):
    """One row per ONNX file: its size, accuracy, counts by the DCASE rules and latency.

    Parameters
    ----------
    model : torch.nn.Module
        The network the files were exported from; the rules count its parameters.
    files : dict of pathlib.Path to str
        ONNX file to the type its parameters are stored in (``"float32"``, ...).
    features : SceneFeatures
        The evaluation split scores the files and gives the input shape (one clip).
    threads : sequence of int
        One latency column per thread count.
    repeats : int
        Timed runs per file and thread count.

    Returns
    -------
    pandas.DataFrame
        Indexed by file name.
    """
    import pandas as pd

    from .deploy import DCASE_RULES, OnnxModel, complexity, latency_table
    from .reproduce import clip_length_s, macs_column
    from .train import evaluate

    shape = (1, *features.X_eval.shape[1:])
    rows = {}
    for path, dtype in files.items():
        counted = {rules: complexity(model, shape, rules, dtype) for rules in DCASE_RULES}
        scored = evaluate(OnnxModel(path), features.X_eval, features.y_eval)
        rows[path.name] = {
            "bytes": path.stat().st_size, "accuracy (%)": 100 * scored["accuracy"],
            "DCASE 2021 bytes": counted["dcase2021"]["bytes"],
            "DCASE 2022 bytes": counted["dcase2022"]["bytes"],
            macs_column(clip_length_s(features.X_eval)): counted["dcase2022"]["macs"] / 1e6,
            **{f"fits {rules.removeprefix('dcase')}": "yes" if count["within_limits"] else "no"
               for rules, count in counted.items()}}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("file")
    for count in threads:
        latency = latency_table({path.name: path for path in files}, shape, threads=count,
                                repeats=repeats)
        table[f"latency, {count} thread{'s' if count > 1 else ''} (ms)"] = latency.apply(
            lambda row: f"{row.median_ms:.2f} ({row.low_ms:.2f}-{row.high_ms:.2f})", axis=1)
    return table


def reproduce(args) -> int:
    from .engine import LocalEngine, RayEngine, ResourceError
    from .reproduce import LAYER_SETS, reproduce as run

    _check_writable(args.out, folder=True)
    if args.engine == "ray":
        engine = RayEngine(args.address, cpus_per_run=args.cpus_per_run,
                           gpus_per_run=args.gpus_per_run, threads_per_run=args.threads_per_run or 1,
                           node_ip_address=args.node_ip_address)
    else:
        engine = LocalEngine(threads_per_run=args.threads_per_run)
    try:
        result = run(args.data, clip_seconds=args.clip_seconds, baseline_epochs=args.epochs,
                     finetune_epochs=args.finetune_epochs, seeds=args.seeds,
                     layer_sets={name: LAYER_SETS[name] for name in args.layer_sets},
                     fewer_examples=not args.no_fewer_examples, fractions=args.fractions,
                     country_iso_code=args.country, out_dir=args.out, engine=engine)
    except ResourceError as error:
        raise UsageError(str(error)) from None
    _say(f"\nbaseline accuracy {100 * result['baseline_accuracy']:.1f} %")
    _say(result["pruning_summary"].round(1).to_string())
    energy = result["energy"]
    if args.engine == "ray":
        _say("\nenergy of the runs computed, per phase and node (kWh): " + (", ".join(
            f"{phase} on {node[:8]} {row['energy (kWh)']:.2e}"
            for (phase, node), row in energy.iterrows()) or "none, all read from the cache"))
    else:
        _say("\nenergy of this run per phase (kWh): " + ", ".join(
            f"{name} {row['energy (kWh)']:.2e}"
            + (f" (read {row['read from the cache']} of {row['training runs']} training runs "
               "from the cache)" if row["read from the cache"] else "")
            for name, row in energy.iterrows()))
    _say(f"tables written to {result['out_dir']}/ (beside the papers' figures: beside_paper.md)")
    return 0


def report(args) -> int:
    import pandas as pd

    summary = args.results / "pruning_summary.md"
    if not summary.is_file():
        print(f"audioprune report: no results in {args.results}: run `audioprune reproduce "
              f"--out {args.results}` first", file=sys.stderr)
        return 1
    _say(summary.read_text())
    beside = args.results / "beside_paper.md"
    if beside.is_file():
        _say(beside.read_text())
    for name in ("fewer_examples.csv", "energy.csv"):
        path = args.results / name
        if path.is_file():
            _say(f"{name}:\n{pd.read_csv(path).round(4).to_string(index=False)}\n")
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
    command.add_argument("--epochs", type=_positive_int, help="training epochs (default: the book's)")
    command.add_argument("--out", type=Path, default=Path("baseline.pt"), help="model file")
    command.set_defaults(run=train)

    command = commands.add_parser("prune", help="remove filters from a trained model")
    _data_options(command)
    command.add_argument("--model", type=Path, required=True, help="model file to prune")
    command.add_argument("--layers", type=_names, default="conv1,conv2,conv3",
                         help="conv layers, comma-separated")
    criteria = "; ".join(f"{name}: {criterion.description}" for name, criterion in CRITERIA.items())
    command.add_argument("--method", default="cosine", choices=list(CRITERIA),
                         help=f"the criterion choosing the filters (default cosine). {criteria}")
    command.add_argument("--ratio", type=_ratio,
                         help="share of filters to remove per layer (default: as many as the "
                              "cosine greedy pass removes)")
    command.add_argument("--seed", type=int, default=0, help="seed of the random criterion")
    command.add_argument("--out", type=Path, default=Path("pruned.pt"))
    command.set_defaults(run=prune)

    command = commands.add_parser("finetune", help="fine-tune a (pruned) model")
    _data_options(command)
    command.add_argument("--model", type=Path, required=True)
    command.add_argument("--epochs", type=_positive_int, default=5)
    command.add_argument("--fraction", type=_fraction, default=1.0,
                         help="share of the training data, in (0, 1]")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--out", type=Path, default=Path("finetuned.pt"))
    command.set_defaults(run=finetune)

    command = commands.add_parser(
        "export", help="write a model as ONNX files (float32, float16, int8) and print their "
                       "sizes by the DCASE rules, accuracy and latency")
    _data_options(command)
    command.add_argument("--model", type=Path, required=True, help="model file to export")
    command.add_argument("--out", type=Path, default=Path("."),
                         help="folder of the ONNX files (default: the current folder)")
    command.add_argument("--float16", action="store_true", help="also write a float16 copy")
    command.add_argument("--int8", action="store_true",
                         help="also write an int8 copy (static quantisation)")
    command.add_argument("--threads", type=_thread_counts, default="1,2",
                         help="comma-separated thread counts to time (default 1,2)")
    command.add_argument("--repeats", type=_repeats, default=30,
                         help="timed runs per file and thread count, at least 2 (default 30)")
    command.add_argument("--calibration", type=_positive_int, default=256,
                         help="training clips that calibrate the int8 copy (default 256)")
    command.set_defaults(run=export)

    command = commands.add_parser("reproduce", help="the papers' study in one run, tables to --out")
    _data_options(command)
    command.add_argument("--epochs", type=_positive_int,
                         help="baseline training epochs (default: the book's)")
    command.add_argument("--finetune-epochs", type=_positive_int, default=5)
    command.add_argument("--seeds", type=_seeds, default="0,1,2", help="comma-separated seeds")
    command.add_argument("--no-fewer-examples", action="store_true",
                         help="skip the fewer-examples sweep")
    command.add_argument("--fractions", type=_fractions,
                         help="comma-separated shares of the training data of the fewer-examples "
                              "sweep (default: chapter 5's)")
    command.add_argument("--layer-sets", type=_layer_sets, default=",".join(LAYER_SET_NAMES),
                         help="rows of the papers' table to run (default: all six, "
                              f"{','.join(LAYER_SET_NAMES)})")
    command.add_argument("--country", default="GBR", help="ISO code of the electricity grid")
    command.add_argument("--out", type=Path, default=Path("results"))
    command.add_argument("--engine", choices=("local", "ray"), default="local",
                         help="run the training runs one after another here (local), or as Ray "
                              "tasks, all in flight at once (ray, the [scale] extra); with the "
                              "same seeds and --threads-per-run 1 both give equal tables")
    command.add_argument("--address", help="HOST:PORT of a running Ray cluster's head (default: "
                                           "start Ray on this machine)")
    command.add_argument("--node-ip-address", help="this machine's address on the Ray cluster "
                                                   "(default: Ray's choice)")
    command.add_argument("--threads-per-run", type=_positive_int,
                         help="PyTorch threads of each run (local default: as set; ray: 1)")
    command.add_argument("--cpus-per-run", type=_resource, default=1.0,
                         help="CPUs Ray reserves for a run (default 1)")
    command.add_argument("--gpus-per-run", type=_resource, default=0.0,
                         help="GPUs Ray reserves for a run, fractions allowed (default 0)")
    command.set_defaults(run=reproduce)

    command = commands.add_parser("report", help="print the tables of a reproduce run")
    command.add_argument("--results", type=Path, default=Path("results"))
    command.set_defaults(run=report)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code (see the module's docstring)."""
    from .data import DataNotFoundError
    from .extras import MissingExtraError

    name = "audioprune"
    try:
        args = build_parser().parse_args(argv)
        name = f"audioprune {args.command}"
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = lambda message, *_, **__: print(
                f"{name}: warning: {message}", file=sys.stderr)
            return args.run(args)
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted; run the same "
              "command again to go on from what is cached", file=sys.stderr)
        return 130
    except UsageError as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 2
    except DataNotFoundError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 3
    except OSError as error:
        print(f"{name}: {_os_error_line(error)}", file=sys.stderr)
        return 1
    except (MissingExtraError, ValueError, RuntimeError) as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 1


def _os_error_line(error: OSError) -> str:
    """``<file>: <what the system said>`` and what to do about it."""
    from .store import cache_home

    if error.filename is None:
        return str(error)
    line = f"{error.filename}: {error.strerror}"
    home = cache_home(create=False)
    if "AUDIOPRUNE_HOME" in line:  # already said by store.cache_home
        return line
    if Path(os.path.realpath(error.filename)).is_relative_to(home):
        return f"{line} (in the cache: point AUDIOPRUNE_HOME at a folder that can be written)"
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{line} (choose a place that can be written)"
    if error.errno == errno.ENOSPC:
        return f"{line} (free some space; what finished is cached, so running again is quick)"
    return line


if __name__ == "__main__":
    sys.exit(main())
