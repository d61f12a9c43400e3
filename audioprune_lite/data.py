"""Data sets: the TAU layout (scene labels, tables), reading TAU 2020 Mobile, ESC-50 and audio.

This module is the one place that defines the layout of the TAU Urban Acoustic Scenes 2020
Mobile development set: its ten labels (:data:`SCENE_CLASSES`), its tables and their columns
(:data:`SCENE_TABLES`), and how the tables are read (:func:`load_scenes`) and written
(:func:`write_scene_tables`). The offline scenes of :mod:`audioprune_lite.synthetic` are
written through it, and the real data that ``data_scripts/download_tau2020_mobile.py``
fetches has the same layout, so one loader reads both::

    root/
      meta.csv                        filename  scene_label  identifier  source_label
      audio/<scene>-<city>-<location>-<segment>-<device>.wav
      evaluation_setup/fold1_train.csv      filename  scene_label
      evaluation_setup/fold1_evaluate.csv   filename  scene_label
      evaluation_setup/fold1_test.csv       filename

All tables are tab-separated, without quoting. Chapter 1 listens to the clips; the chapters
that train a network do so on the ``train`` and ``evaluate`` splits.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import soundfile as sf

__all__ = [
    "SCENE_CLASSES",
    "SCENE_TABLES",
    "SPLITS",
    "AudioFileError",
    "DataNotFoundError",
    "MetadataError",
    "device_split",
    "layout_of",
    "load_audio",
    "load_esc50",
    "load_scenes",
    "scene_table_path",
    "write_scene_tables",
]

SCENE_CLASSES = (
    "airport",
    "bus",
    "metro",
    "metro_station",
    "park",
    "public_square",
    "shopping_mall",
    "street_pedestrian",
    "street_traffic",
    "tram",
)
"""The ten scene classes of TAU Urban Acoustic Scenes 2020, sorted: a class index is a position."""

SPLITS = ("train", "evaluate", "test")
"""Split names of the TAU 2020 Mobile development set's ``evaluation_setup`` folder."""

SCENE_TABLES = {
    "meta": ("filename", "scene_label", "identifier", "source_label"),
    "train": ("filename", "scene_label"),
    "evaluate": ("filename", "scene_label"),
    "test": ("filename",),
}
"""The tables of the TAU layout and their columns: ``meta`` (``meta.csv``) and one list per split
(``evaluation_setup/fold1_<split>.csv``). ``identifier`` is the recording location
(``<city>-<location>``), ``source_label`` the device."""

ESC50_META_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")

HOW_TO_GET_DATA = (
    "Make the offline scenes with audioprune_lite.synthetic.make_synthetic_scenes(root) "
    "(command line: python data_scripts/make_synthetic_scenes.py --root {root}), or fetch "
    "the real data with python data_scripts/download_tau2020_mobile.py --root {root} "
    "(ESC-50: python data_scripts/download_esc50.py --root {root})."
)

_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


class DataNotFoundError(FileNotFoundError):
    """A data folder or one of its tables is missing; the message says how to get data."""


class MetadataError(ValueError):
    """A metadata table that cannot be used: a missing column, an unknown label or file."""


class AudioFileError(ValueError):
    """An audio file that exists but cannot be used: corrupt, empty or unreadable."""


def scene_table_path(root, table: str) -> Path:
    """Where a table of the TAU layout lives (``meta.csv`` or a fold-1 list).

    Parameters
    ----------
    root : str or Path
        The data set's folder.
    table : {"meta", "train", "evaluate", "test"}
        A key of :data:`SCENE_TABLES`.

    Returns
    -------
    pathlib.Path
    """
    if table not in SCENE_TABLES:
        raise ValueError(f"unknown table {table!r}; choose one of {', '.join(SCENE_TABLES)}")
    root = Path(root)
    if table == "meta":
        return root / "meta.csv"
    return root / "evaluation_setup" / f"fold1_{table}.csv"


def write_scene_tables(root, meta: Sequence[Sequence[str]], train: Sequence[str],
                       evaluate: Sequence[str]) -> None:
    """Write ``meta.csv`` and the fold-1 lists of a data set in the TAU layout.

    Each table is a header line of its :data:`SCENE_TABLES` columns, then one line per row,
    fields separated by tabs, every line ending in ``\\n`` (UTF-8). As in TAU,
    ``fold1_train.csv`` and ``fold1_evaluate.csv`` give each file's scene label (taken from
    ``meta``) and ``fold1_test.csv`` lists the evaluate files without labels.
    :func:`load_scenes` reads the tables back.

    Parameters
    ----------
    root : str or Path
        The data set's folder; ``evaluation_setup/`` is created if missing.
    meta : sequence of (filename, scene_label, identifier, source_label)
        One row per clip, in the order of ``meta.csv``.
    train, evaluate : sequence of str
        File names of each split, in the order of its list.

    Raises
    ------
    MetadataError
        A row that is not four fields, an empty file name, a field holding a tab, a line
        break or another control character, a scene label outside :data:`SCENE_CLASSES`, a
        file named twice in ``meta``, a split naming a file ``meta`` lacks, or a file in both
        splits. Nothing is written then.
    """
    meta = [tuple(row) for row in meta]
    _check_scene_rows(meta, list(train), list(evaluate))
    label_of = {filename: label for filename, label, *_ in meta}
    rows = {
        "meta": meta,
        "train": [(name, label_of[name]) for name in train],
        "evaluate": [(name, label_of[name]) for name in evaluate],
        "test": [(name,) for name in evaluate],
    }
    scene_table_path(root, "train").parent.mkdir(parents=True, exist_ok=True)
    for table, columns in SCENE_TABLES.items():
        lines = ["\t".join(columns)] + ["\t".join(row) for row in rows[table]]
        scene_table_path(root, table).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _check_scene_rows(meta: list[tuple], train: list[str], evaluate: list[str]) -> None:
    """Raise :class:`MetadataError` for rows that the TAU tables cannot hold or read back."""
    width = len(SCENE_TABLES["meta"])
    for row in meta:
        if len(row) != width or not all(isinstance(field, str) for field in row):
            raise MetadataError(f"a meta row must be {width} strings "
                                f"({', '.join(SCENE_TABLES['meta'])}), got {row!r}")
        if not row[0] or any(_CONTROL_CHARACTER.search(field) for field in row):
            raise MetadataError(f"meta row {row!r} has an empty file name or a field holding a "
                                "tab, line break or other control character")
        if row[1] not in SCENE_CLASSES:
            raise MetadataError(f"{row[0]}: scene label {row[1]!r} is not in SCENE_CLASSES")
    filenames = [row[0] for row in meta]
    if len(set(filenames)) != len(filenames):
        raise MetadataError("meta names a file twice: "
                            f"{next(n for n in filenames if filenames.count(n) > 1)}")
    for split, names in (("train", train), ("evaluate", evaluate)):
        unknown = sorted(set(names) - set(filenames))
        if unknown:
            raise MetadataError(f"the {split} split names {len(unknown)} files that meta lacks, "
                                f"e.g. {unknown[0]!r}")
    both = sorted(set(train) & set(evaluate))
    if both:
        raise MetadataError(f"{len(both)} files are in both splits, e.g. {both[0]!r}")


def _read_table(path: Path, columns: tuple[str, ...], sep: str,
                quoting: int = csv.QUOTE_MINIMAL) -> pd.DataFrame:
    """Read a metadata table and check it has ``columns``; the errors name file and column."""
    if not path.is_file():
        raise DataNotFoundError(
            f"missing table {path}. " + HOW_TO_GET_DATA.format(root=path.parent)
        )
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, quoting=quoting)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise MetadataError(f"cannot parse {path}: {error}") from error
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise MetadataError(
            f"{path} has no column {', '.join(repr(c) for c in missing)} "
            f"(expected columns {', '.join(columns)}; found {', '.join(table.columns)}; "
            f"separator {sep!r})"
        )
    return table


def _read_scene_table(root: Path, table: str) -> pd.DataFrame:
    """One table of the TAU layout, as strings (tab-separated, no quoting)."""
    return _read_table(scene_table_path(root, table), SCENE_TABLES[table], sep="\t",
                       quoting=csv.QUOTE_NONE)


def layout_of(root) -> str:
    """Which data set layout a folder holds.

    Parameters
    ----------
    root : str or Path

    Returns
    -------
    {"tau", "esc50"}
        ``"tau"`` when the folder has ``meta.csv`` (TAU 2020 Mobile or the offline scenes),
        ``"esc50"`` when it has ``meta/esc50.csv``.

    Raises
    ------
    DataNotFoundError
        The folder is missing or holds neither table; the message says how to get data.
    """
    root = _check_root(root)
    if scene_table_path(root, "meta").is_file():
        return "tau"
    if (root / "meta" / "esc50.csv").is_file():
        return "esc50"
    raise DataNotFoundError(f"{root} holds neither meta.csv (TAU layout) nor meta/esc50.csv "
                            "(ESC-50). " + HOW_TO_GET_DATA.format(root=root))


def _check_root(root) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(f"no data folder at {root}. " + HOW_TO_GET_DATA.format(root=root))
    return root


def load_scenes(root, split: str = "train") -> pd.DataFrame:
    """Read one split of a data set in the TAU Urban Acoustic Scenes 2020 Mobile layout.

    Used by: Chapter 1 (choosing clips to listen to).

    The chapters that train a network read their splits with it too, through
    :func:`audioprune_lite.experiments.default_features`.

    Parameters
    ----------
    root : str or Path
        The folder holding ``meta.csv``, ``audio/`` and ``evaluation_setup/``.
    split : {"train", "evaluate", "test", "all"}
        A fold-1 split, or ``"all"`` for every clip of ``meta.csv``. TAU's ``test`` list
        names files only; their labels are joined from ``meta.csv``.

    Returns
    -------
    pandas.DataFrame
        One row per clip in the fold file's order, with the columns of ``meta.csv``
        (``filename``, ``scene_label``, ``identifier`` = recording location,
        ``source_label`` = device) plus ``label`` (the class index, a position in
        :data:`SCENE_CLASSES`) and ``path`` (absolute path of the audio file).

    Raises
    ------
    DataNotFoundError
        ``root`` or one of the tables does not exist; the message says how to get data.
    MetadataError
        A table lacks a column, lists a file twice, names a file that ``meta.csv`` does not
        know, uses a scene label outside :data:`SCENE_CLASSES` or one that disagrees with
        ``meta.csv``, or a file is in both the training and an evaluation table.
    """
    root = _check_root(root)
    if split not in (*SPLITS, "all"):
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)} or 'all'")
    meta = _read_scene_table(root, "meta")
    _refuse_duplicates(meta, scene_table_path(root, "meta"))
    unknown = sorted(set(meta["scene_label"]) - set(SCENE_CLASSES))
    if unknown:
        raise MetadataError(
            f"{scene_table_path(root, 'meta')} has scene labels outside SCENE_CLASSES: "
            f"{', '.join(unknown)}"
        )
    if split == "all":
        table = meta
    else:
        fold = _read_scene_table(root, split)
        _check_fold(root, split, fold, meta)
        table = fold[["filename"]].merge(meta, on="filename", how="left", validate="1:1")
    table = table[list(SCENE_TABLES["meta"])].copy()
    table["label"] = table["scene_label"].map(SCENE_CLASSES.index).astype("int64")
    table["path"] = [str(root / name) for name in table["filename"]]
    return table.reset_index(drop=True)


def _refuse_duplicates(table: pd.DataFrame, path: Path) -> None:
    """Raise :class:`MetadataError` if ``table`` names a file on more than one row."""
    repeated = table["filename"][table["filename"].duplicated()]
    if len(repeated):
        raise MetadataError(f"{path} names {repeated.iloc[0]} more than once ({len(repeated)} "
                            "repeated rows in all): each clip must be listed once")


def _check_fold(root: Path, split: str, fold: pd.DataFrame, meta: pd.DataFrame) -> None:
    """Refuse a fold table that would give wrong or inflated results.

    Refused with :class:`MetadataError`: a file listed twice; a file ``meta.csv`` does not
    know; a scene label that disagrees with ``meta.csv`` (one of the two is wrong, and
    nothing says which); and a file in both the training and an evaluation table
    (``fold1_evaluate.csv``, ``fold1_test.csv``), which would let the network be evaluated
    on clips it was trained on and inflate its accuracy.
    """
    path = scene_table_path(root, split)
    _refuse_duplicates(fold, path)
    missing = sorted(set(fold["filename"]) - set(meta["filename"]))
    if missing:
        raise MetadataError(f"{path.name} names {len(missing)} files that meta.csv does not "
                            f"know, e.g. {missing[0]}")
    if "scene_label" in fold.columns:
        both = fold.merge(meta, on="filename", suffixes=("", "_meta"))
        disagree = both[both["scene_label"] != both["scene_label_meta"]]
        if len(disagree):
            first = disagree.iloc[0]
            raise MetadataError(
                f"{path.name} labels {first['filename']} {first['scene_label']!r} but meta.csv "
                f"says {first['scene_label_meta']!r} ({len(disagree)} files disagree): correct "
                "one of the two tables")
    others = ("evaluate", "test") if split == "train" else ("train",)
    for other in others:
        if scene_table_path(root, other).is_file():
            shared = sorted(set(fold["filename"]) & set(_read_scene_table(root, other)["filename"]))
            if shared:
                train, held_out = ("train", other) if split == "train" else (other, split)
                raise MetadataError(
                    f"{len(shared)} files are in both fold1_{train}.csv and fold1_{held_out}.csv, "
                    f"e.g. {shared[0]}: evaluating on training clips inflates the accuracy; "
                    f"remove them from one of the two tables")


def device_split(train: pd.DataFrame, evaluate: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Seen and unseen recording devices, found from the splits (never from device names).

    A device is *seen* when the training split has clips from it, and *unseen* when it
    appears only in the evaluation split (in TAU 2020 Mobile: s4, s5, s6).

    Used by: Chapter 1 (which devices training never hears).

    Parameters
    ----------
    train, evaluate : pandas.DataFrame
        Splits as :func:`load_scenes` returns them (column ``source_label``).

    Returns
    -------
    seen, unseen : list of str
        Sorted device names of the evaluation split.
    """
    trained_on = set(train["source_label"])
    devices = sorted(set(evaluate["source_label"]))
    return ([d for d in devices if d in trained_on], [d for d in devices if d not in trained_on])


def load_esc50(root) -> pd.DataFrame:
    """Read the ESC-50 environmental sound data set's metadata.

    ``data_scripts/download_esc50.py`` fetches the data set.

    Parameters
    ----------
    root : str or Path
        The ESC-50 folder holding ``meta/esc50.csv`` and ``audio/``.

    Returns
    -------
    pandas.DataFrame
        The columns of ``meta/esc50.csv`` (``filename``, ``fold`` 1-5, ``target`` = class
        index 0-49, ``category``, ``esc10``, ``src_file``, ``take``) with numbers as
        integers, ``esc10`` as bool, plus ``label`` (= ``target``) and ``path``.

    Raises
    ------
    DataNotFoundError
        The folder or its table is missing.
    MetadataError
        The table lacks a column, lists a file twice, holds a value of the wrong kind, gives
        one class index two categories (or one category two indices), or puts clips cut from
        one source recording (``src_file``) into different folds.
    """
    root = _check_root(root)
    path = root / "meta" / "esc50.csv"
    table = _read_table(path, ESC50_META_COLUMNS, sep=",")
    _refuse_duplicates(table, path)  # one clip in two folds would leak
    try:
        for column in ("fold", "target"):
            table[column] = table[column].astype("int64")
    except ValueError as error:
        raise MetadataError(f"{path}: {error}") from error
    _check_esc50(table, path)
    table["esc10"] = table["esc10"].str.lower().eq("true")
    table["label"] = table["target"]
    table["path"] = [str(root / "audio" / name) for name in table["filename"]]
    return table


def _check_esc50(table: pd.DataFrame, path: Path) -> None:
    """Refuse an ESC-50 table that would give wrong or inflated results.

    Refused with :class:`MetadataError`:

    * a class index (``target``) with two categories, or a category with two indices: one of
      the rows is mislabelled, and the class names would depend on the order of the rows;
    * clips cut from one source recording (``src_file``) in different folds: ESC-50 keeps
      them in one fold, so that the evaluation fold holds no near-copy of a training clip,
      which would inflate the accuracy.
    """
    pairs = table.drop_duplicates(["target", "category"])  # the first row of each pair
    clashing = pairs[pairs["target"].duplicated() | pairs["category"].duplicated()]
    if len(clashing):
        row = clashing.iloc[0]
        earlier = pairs[(pairs["target"] == row["target"])
                        | (pairs["category"] == row["category"])].iloc[0]
        raise MetadataError(
            f"{path} gives {row['filename']} target {row['target']} {row['category']!r} but "
            f"{earlier['filename']} target {earlier['target']} {earlier['category']!r}: each "
            "class must have one index and one category; correct the mislabelled rows")
    folds = table.groupby("src_file")["fold"].unique()
    spread = folds[folds.map(len) > 1]
    if len(spread):
        raise MetadataError(
            f"{path}: {len(spread)} source recordings are in more than one fold, e.g. "
            f"{spread.index[0]} (folds {', '.join(map(str, sorted(spread.iloc[0])))}): "
            "evaluating on fragments of a training recording inflates the accuracy; keep each "
            "src_file in one fold")


def load_audio(path, sr: int = 44100, duration: float | None = None) -> np.ndarray:
    """Read an audio file as float32 mono samples at the sample rate ``sr``.

    Anything soundfile (libsndfile) reads is accepted: WAV with 16- or 24-bit integer or
    float samples, FLAC, OGG/Vorbis. Several channels are mixed down by their mean, and a
    file recorded at another rate is resampled to ``sr`` (librosa's default resampler,
    soxr "high quality").

    Used by: Chapter 1 (listening and plotting clips).

    :func:`audioprune_lite.features.extract` reads every clip with it.

    Parameters
    ----------
    path : str or Path
        The audio file.
    sr : int
        Sample rate of the returned signal, in Hz.
    duration : float, optional
        When given, the signal is trimmed or zero-padded at the end to exactly
        ``round(duration * sr)`` samples (seconds).

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(samples,)``, full scale at +-1.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    AudioFileError
        The file is empty, corrupt, cut short (a WAV file whose header announces more
        samples than it holds, which libsndfile would read short without a word), not
        audio or holds non-finite samples; the message names the file.

    Examples
    --------
    >>> y = load_audio("audio/park-lisbon-1000-0-a.wav", sr=44100, duration=1.0)  # doctest: +SKIP
    >>> y.shape, y.dtype  # doctest: +SKIP
    ((44100,), dtype('float32'))
    """
    path = Path(path)
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be positive seconds, got {duration}")
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    _refuse_truncated_wav(path)
    try:
        samples, file_sr = sf.read(path, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as error:
        raise AudioFileError(f"cannot read audio file {path}: {error}") from error
    if samples.shape[0] == 0:
        raise AudioFileError(f"audio file {path} holds no samples")
    y = samples.mean(axis=1)
    if not np.all(np.isfinite(y)):
        raise AudioFileError(f"audio file {path} holds samples that are not finite numbers")
    if file_sr != sr:
        y = librosa.resample(y, orig_sr=file_sr, target_sr=sr)
    if duration is not None:
        y = librosa.util.fix_length(y, size=round(duration * sr))
    return np.ascontiguousarray(y, dtype=np.float32)


def _refuse_truncated_wav(path: Path) -> None:
    """Raise :class:`AudioFileError` if a WAV file holds fewer sample bytes than its header announces.

    Walks the RIFF chunks to the ``data`` chunk and compares its declared size with the
    bytes that follow it. Files that are not RIFF WAV, and streamed WAV files whose header
    leaves the size open (0 or 0xFFFFFFFF), are left to libsndfile.
    """
    size = path.stat().st_size
    with open(path, "rb") as file:
        if file.read(4) != b"RIFF":
            return
        file.seek(12)
        while (header := file.read(8)) and len(header) == 8:
            name, declared = header[:4], int.from_bytes(header[4:], "little")
            if name == b"data":
                available = size - file.tell()
                if 0 < declared < 0xFFFFFFFF and available < declared:
                    raise AudioFileError(
                        f"audio file {path} is cut short: its header announces {declared} bytes "
                        f"of samples, it holds {available}; copy or download it again")
                return
            file.seek(declared + declared % 2, 1)  # chunks are padded to an even size
