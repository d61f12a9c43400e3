"""Data sets: the scene labels, reading TAU 2020 Mobile and ESC-50 tables, reading audio.

One loader reads both the offline scenes that :func:`make_synthetic_scenes` writes and
the real TAU Urban Acoustic Scenes 2020 Mobile development set that
``data_scripts/download_tau2020_mobile.py`` fetches, because both share the same layout::

    root/
      meta.csv                        filename  scene_label  identifier  source_label
      audio/<scene>-<city>-<location>-<segment>-<device>.wav
      evaluation_setup/fold1_train.csv      filename  scene_label
      evaluation_setup/fold1_evaluate.csv   filename  scene_label
      evaluation_setup/fold1_test.csv       filename

All tables are tab-separated. Chapter 1 listens to the clips; chapter 2 and the later
chapters train and evaluate on the ``train`` and ``evaluate`` splits.
"""

from __future__ import annotations

import hashlib
import inspect
import shutil
import tempfile
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import soundfile as sf

from . import synthetic
from .cache import cache_home
from .synthetic import SCENE_CLASSES, make_synthetic_scenes

__all__ = [
    "SCENE_CLASSES",
    "SPLITS",
    "AudioFileError",
    "DataNotFoundError",
    "MetadataError",
    "default_scenes",
    "device_split",
    "load_audio",
    "load_esc50",
    "load_scenes",
    "make_synthetic_scenes",
]

SPLITS = ("train", "evaluate", "test")
"""Split names of the TAU 2020 Mobile development set's ``evaluation_setup`` folder."""

SCENE_META_COLUMNS = ("filename", "scene_label", "identifier", "source_label")
ESC50_META_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")

HOW_TO_GET_DATA = (
    "Make the offline scenes with audioprune_lite.data.make_synthetic_scenes(root) "
    "(command line: python data_scripts/make_synthetic_scenes.py --root {root}), or fetch "
    "the real data with python data_scripts/download_tau2020_mobile.py --root {root} "
    "(ESC-50: python data_scripts/download_esc50.py --root {root})."
)


class DataNotFoundError(FileNotFoundError):
    """A data folder or one of its tables is missing; the message says how to get data."""


class MetadataError(ValueError):
    """A metadata table that cannot be used: a missing column, an unknown label or file."""


class AudioFileError(ValueError):
    """An audio file that exists but cannot be used: corrupt, empty or unreadable."""


def _read_table(path: Path, columns: tuple[str, ...], sep: str) -> pd.DataFrame:
    """Read a metadata table and check it has ``columns``; the errors name file and column."""
    if not path.is_file():
        raise DataNotFoundError(
            f"missing table {path}. " + HOW_TO_GET_DATA.format(root=path.parent)
        )
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
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


def _check_root(root) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(f"no data folder at {root}. " + HOW_TO_GET_DATA.format(root=root))
    return root


def default_scenes(progress: bool = True) -> Path:
    """The book's offline data set: made once with the default settings, then reused.

    The folder lives in :func:`audioprune_lite.cache.cache_home` under a name that
    includes a hash of the generator's source code, so a changed generator makes a new
    data set. It is written to a temporary folder and renamed when complete, so an
    interrupted run never leaves a half-made data set behind.

    Used by: Chapter 1 onwards and the command line's ``prepare`` (no ``--data``).

    Parameters
    ----------
    progress : bool
        Show a progress bar while the clips are made.

    Returns
    -------
    pathlib.Path
        The data set's root folder, in the TAU 2020 Mobile layout (read it with
        :func:`load_scenes`).
    """
    version = hashlib.sha256(inspect.getsource(synthetic).encode()).hexdigest()[:12]
    root = cache_home() / f"synthetic-scenes-{version}"
    if not (root / "meta.csv").is_file():
        staging = Path(tempfile.mkdtemp(prefix=".synthetic-scenes-", dir=root.parent))
        try:
            make_synthetic_scenes(staging, progress=progress)
            try:
                staging.replace(root)
            except OSError:  # another process finished the same data set first
                if not (root / "meta.csv").is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return root


def load_scenes(root, split: str = "train") -> pd.DataFrame:
    """Read one split of a data set in the TAU Urban Acoustic Scenes 2020 Mobile layout.

    Used by: Chapter 1 (choosing clips to listen to), Chapter 2 onwards (training and
    evaluation sets), and the command line.

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
        A table lacks a column, names a file that ``meta.csv`` does not know, or uses a
        scene label outside :data:`SCENE_CLASSES`.
    """
    root = _check_root(root)
    if split not in (*SPLITS, "all"):
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)} or 'all'")
    meta = _read_table(root / "meta.csv", SCENE_META_COLUMNS, sep="\t")
    unknown = sorted(set(meta["scene_label"]) - set(SCENE_CLASSES))
    if unknown:
        raise MetadataError(
            f"{root / 'meta.csv'} has scene labels outside SCENE_CLASSES: {', '.join(unknown)}"
        )
    if split == "all":
        table = meta
    else:
        fold = _read_table(root / "evaluation_setup" / f"fold1_{split}.csv", ("filename",), "\t")
        missing = sorted(set(fold["filename"]) - set(meta["filename"]))
        if missing:
            raise MetadataError(
                f"fold1_{split}.csv names {len(missing)} files that meta.csv does not know, "
                f"e.g. {missing[0]}"
            )
        table = fold[["filename"]].merge(meta, on="filename", how="left", validate="1:1")
    table = table[list(SCENE_META_COLUMNS)].copy()
    table["label"] = table["scene_label"].map(SCENE_CLASSES.index).astype("int64")
    table["path"] = [str(root / name) for name in table["filename"]]
    return table.reset_index(drop=True)


def device_split(train: pd.DataFrame, evaluate: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Seen and unseen recording devices, found from the splits (never from device names).

    A device is *seen* when the training split has clips from it, and *unseen* when it
    appears only in the evaluation split (in TAU 2020 Mobile: s4, s5, s6).

    Used by: Chapter 2 (accuracy on seen versus unseen devices) and later chapters.

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

    Used by: the real-data appendix and the command line's ``--data`` option
    (``data_scripts/download_esc50.py`` fetches the data set).

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
        The table lacks a column or holds a value of the wrong kind.
    """
    root = _check_root(root)
    table = _read_table(root / "meta" / "esc50.csv", ESC50_META_COLUMNS, sep=",")
    try:
        for column in ("fold", "target"):
            table[column] = table[column].astype("int64")
    except ValueError as error:
        raise MetadataError(f"{root / 'meta' / 'esc50.csv'}: {error}") from error
    table["esc10"] = table["esc10"].str.lower().eq("true")
    table["label"] = table["target"]
    table["path"] = [str(root / "audio" / name) for name in table["filename"]]
    return table


def load_audio(path, sr: int = 44100, duration: float | None = None) -> np.ndarray:
    """Read an audio file as float32 mono samples at the sample rate ``sr``.

    Anything soundfile (libsndfile) reads is accepted: WAV with 16- or 24-bit integer or
    float samples, FLAC, OGG/Vorbis. Several channels are mixed down by their mean, and a
    file recorded at another rate is resampled to ``sr`` (librosa's default resampler,
    soxr "high quality").

    Used by: Chapter 1 (listening and plotting clips) and, through
    :func:`audioprune_lite.features.extract`, every chapter that trains a network.

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
        The file is empty, corrupt, not audio or holds non-finite samples; the message
        names the file.

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
