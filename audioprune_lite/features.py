"""Log-mel features with the DCASE 2021 Task 1A baseline's settings, and a cached extractor.

Chapter 1 ("Audio features") builds the log-mel spectrogram step by step and explains
every parameter of :class:`LogMelConfig`; chapter 2 and later chapters call
:func:`extract` to turn a whole split into the network's input tensor.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import data
from .data import load_audio
from .store import atomic_write, cached, code_fingerprint, fingerprint

__all__ = ["LogMelConfig", "extract", "log_mel", "mel_filter_bank", "mel_power"]


@dataclass(frozen=True)
class LogMelConfig:
    """Settings of the log-mel spectrogram; the defaults are the DCASE 2021 Task 1A baseline's.

    Used by: Chapter 1 (each parameter explained and explored).

    Attributes
    ----------
    sr : int
        Sample rate in Hz (44,100 as TAU 2020 Mobile is recorded).
    n_fft : int
        FFT length in samples (2048); the window is zero-padded to it.
    win_length : int
        Analysis window length in samples (1764 = 40 ms at 44.1 kHz).
    hop_length : int
        Step between frames in samples (882 = 20 ms at 44.1 kHz).
    window : str
        Window function; librosa's ``"hamming"`` is the periodic Hamming window that the
        baseline's ``hamming_asymmetric`` names.
    n_mels : int
        Number of mel bands (40).
    fmin, fmax : float
        Lowest and highest frequency of the mel filter bank in Hz; ``fmax=None`` means
        ``sr / 2`` (22,050 Hz by default).
    power : float
        1 for the magnitude spectrogram (as the baseline), 2 for the power spectrogram.
    floor_db : float
        Lowest value of the log-mel spectrogram in dB; silence gives this finite value.
    """

    sr: int = 44100
    n_fft: int = 2048
    win_length: int = 1764
    hop_length: int = 882
    window: str = "hamming"
    n_mels: int = 40
    fmin: float = 0.0
    fmax: float | None = None
    power: float = 1.0
    floor_db: float = -100.0

    def __post_init__(self):
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length {self.win_length} exceeds n_fft {self.n_fft}")
        for name in ("sr", "n_fft", "win_length", "hop_length", "n_mels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.power not in (1.0, 2.0):
            raise ValueError(f"power must be 1 (magnitude) or 2 (power), got {self.power}")
        if not 0 <= self.fmin < self.top_frequency <= self.sr / 2:
            raise ValueError(
                f"need 0 <= fmin < fmax <= sr/2, got fmin={self.fmin}, fmax={self.top_frequency}"
            )

    @property
    def top_frequency(self) -> float:
        """The mel filter bank's highest frequency in Hz (``fmax``, or ``sr / 2``)."""
        return self.sr / 2 if self.fmax is None else self.fmax

    def n_frames(self, n_samples: int) -> int:
        """Number of frames for a signal of ``n_samples`` (centred frames: 1 + n // hop)."""
        return 1 + n_samples // self.hop_length


@functools.lru_cache(maxsize=16)
def mel_filter_bank(config: LogMelConfig) -> np.ndarray:
    """The triangular mel filters (Slaney-style, librosa's default), shape ``(n_mels, 1 + n_fft // 2)``.

    Used by: :func:`mel_power` and :func:`audioprune_lite.plots.plot_filter_bank`.
    """
    bank = librosa.filters.mel(
        sr=config.sr, n_fft=config.n_fft, n_mels=config.n_mels,
        fmin=config.fmin, fmax=config.top_frequency,
    )
    bank.setflags(write=False)  # shared by every call with this config
    return bank


def mel_power(y: np.ndarray, config: LogMelConfig = LogMelConfig()) -> np.ndarray:
    """The mel spectrogram before the logarithm: mel-weighted magnitude (or power) spectrum.

    Used by: Chapter 1 (the step between STFT and log-mel).

    Parameters
    ----------
    y : numpy.ndarray
        Mono signal, shape ``(samples,)``, at ``config.sr``.
    config : LogMelConfig

    Returns
    -------
    numpy.ndarray
        Shape ``(n_mels, frames)``, non-negative, float32.
    """
    spectrum = np.abs(
        librosa.stft(
            np.asarray(y, dtype=np.float32),
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            win_length=config.win_length,
            window=config.window,
            center=True,
        )
    ) ** config.power
    return (mel_filter_bank(config) @ spectrum).astype(np.float32)


def log_mel(y: np.ndarray, config: LogMelConfig = LogMelConfig()) -> np.ndarray:
    """Log-mel spectrogram in decibels, as the network sees a clip.

    Frames are centred (the signal is padded by ``n_fft // 2`` on both sides), so a
    signal of ``n`` samples gives ``1 + n // hop_length`` frames: 51 for 1 s and 501 for
    10 s at the defaults (the baseline keeps 500; its 5x5 pooling drops the rest).
    Values are decibels with reference level 1: ``20 log10 M`` for magnitude
    (``power=1``) or ``10 log10 M`` for power, with ``M`` the mel spectrogram, and never
    below ``config.floor_db``. The baseline took the natural logarithm,
    which differs only by the factor 20 / ln 10, a scale that standardisation removes.

    Used by: Chapter 1 (plots and the parameter explorer) and :func:`extract`.

    Parameters
    ----------
    y : numpy.ndarray
        Mono signal, shape ``(samples,)``, at ``config.sr``.
    config : LogMelConfig

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(config.n_mels, frames)``; finite, also for silence.

    Examples
    --------
    >>> import numpy as np
    >>> log_mel(np.zeros(44100, dtype=np.float32)).shape
    (40, 51)
    """
    decibels_per_decade = 20.0 if config.power == 1.0 else 10.0
    decibels = decibels_per_decade * np.log10(np.maximum(mel_power(y, config), 1e-30))
    return np.maximum(decibels, config.floor_db).astype(np.float32)


def _cache_key(paths: list[str], labels: np.ndarray, config: LogMelConfig, duration) -> str:
    """A hash of everything the features depend on: the settings, the files (with size,
    modification time and inode change time), the labels, and the code that computes them
    (this module, the audio loader and librosa's version), so a change to any of them
    recomputes the features.

    The change time catches an edit that keeps a file's size and sets its modification
    time back (as ``cp -p`` or ``touch -r`` do): no user can set it, and reading it costs
    nothing, unlike hashing every clip (27 GB for TAU 2020 Mobile)."""
    files = []
    for path in paths:
        stat = os.stat(path)
        files.append((path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))
    code = (code_fingerprint(sys.modules[__name__], data), librosa.__version__)
    return fingerprint(dataclasses.asdict(config), duration, files, labels, code)


def extract(
    df: pd.DataFrame,
    config: LogMelConfig = LogMelConfig(),
    cache_dir=None,
    progress: bool = True,
    duration: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Log-mel features and class indices of every clip in a split, cached on disk.

    Used by: Chapter 1 and :func:`audioprune_lite.experiments.default_features`.

    Parameters
    ----------
    df : pandas.DataFrame
        A split as :func:`audioprune_lite.data.load_scenes` or ``load_esc50`` returns it:
        columns ``path`` and ``label`` (class index).
    config : LogMelConfig
    cache_dir : str or Path, optional
        Where to keep the result. The file name is a hash of the settings, ``duration``,
        the file list (with each file's size, modification and change time) and the labels, so a
        changed input is recomputed and an unchanged one is read back; so is a change to the
        code that computes them (this module, the audio loader, librosa's version).
    progress : bool
        Show a progress bar over the files.
    duration : float, optional
        Trim or pad every clip to this many seconds. Needed when clips differ in length.

    Returns
    -------
    X : numpy.ndarray
        float32, shape ``(N, 1, n_mels, frames)``: one channel, as a CNN expects.
    y : numpy.ndarray
        int64, shape ``(N,)``: class indices.

    Raises
    ------
    ValueError
        An empty split, or clips of different lengths without ``duration``.
    AudioFileError, FileNotFoundError
        From :func:`audioprune_lite.data.load_audio`, naming the file.
    """
    for column in ("path", "label"):
        if column not in df.columns:
            raise ValueError(f"the table has no column {column!r} (use data.load_scenes)")
    if len(df) == 0:
        raise ValueError("the split is empty: no clips to extract")
    paths = [str(path) for path in df["path"]]
    labels = df["label"].to_numpy(dtype=np.int64)

    def compute() -> tuple[np.ndarray, np.ndarray]:
        features = []
        for path in tqdm(paths, desc="log-mel", unit="clip", disable=not progress):
            features.append(log_mel(load_audio(path, config.sr, duration), config))
        shapes = {feature.shape for feature in features}
        if len(shapes) > 1:
            raise ValueError(
                f"clips give different numbers of frames ({sorted(s[1] for s in shapes)}); "
                "pass duration= to trim or pad them to one length"
            )
        return np.stack(features)[:, np.newaxis], labels

    if cache_dir is None:
        return compute()
    path = Path(cache_dir) / f"logmel-{_cache_key(paths, labels, config, duration)}.npz"
    (X, y), _ = cached(path, compute, save=_save_features, load=_load_features)
    return X, y


def _save_features(features: tuple[np.ndarray, np.ndarray], path: Path) -> None:
    X, y = features
    atomic_write(path, lambda file: np.savez(file, X=X, y=y))


def _load_features(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a feature cache entry; raise if it is not a whole one."""
    with np.load(path) as entry:
        X, y = entry["X"], entry["y"]
    if X.ndim != 4 or len(X) != len(y):
        raise ValueError(f"features of shape {X.shape} and labels of shape {y.shape} do not match")
    return X, y
