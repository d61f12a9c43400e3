"""Signal helpers of the synthesiser: seeded random streams, levels, filters, tones and clicks.

Every signal is a mono float64 NumPy array of shape ``(n,)`` at a sample rate ``sr`` in Hz.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import signal

KEY_SEGMENT, KEY_LOCATION, KEY_CITY, KEY_SPLIT, KEY_DEVICE, KEY_DEVICE_NOISE = range(1, 7)
"""Keys that keep the random streams of different purposes apart (first key after the seed)."""


def seeded_rng(*keys: int) -> np.random.Generator:
    """A random generator determined only by ``keys`` (non-negative integers)."""
    return np.random.default_rng(np.random.SeedSequence([int(key) for key in keys]))


def name_key(name: str) -> int:
    """A stable integer for a name (Python's ``hash`` of a string changes between runs)."""
    return zlib.crc32(name.encode("utf-8"))


def from_db(level_db: float) -> float:
    """Amplitude factor of a level in decibels."""
    return 10.0 ** (level_db / 20.0)


def unit_rms(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to a root-mean-square of 1 (a silent signal stays silent)."""
    rms = np.sqrt(np.mean(x**2))
    return x / rms if rms > 0 else x


def draw_count(rng: np.random.Generator, count_range: tuple[int, int]) -> int:
    """An integer drawn uniformly from the inclusive range ``(low, high)``."""
    return int(rng.integers(count_range[0], count_range[1] + 1))


def band_filter(
    x: np.ndarray, sr: int, low: float | None = None, high: float | None = None, order: int = 2
) -> np.ndarray:
    """Butterworth filter: high-pass above ``low`` Hz, low-pass below ``high`` Hz, or both.

    With both, one band-pass filter does the work. A low-pass cut-off too close to the Nyquist
    frequency to matter is skipped, so the same call works at 16 kHz and at 44.1 kHz.
    """
    if high is not None and high >= 0.45 * sr:
        high = None
    if low is None and high is None:
        return x
    return signal.sosfilt(_butterworth(order, low, high, sr), x)


@lru_cache(maxsize=256)
def _butterworth(order: int, low: float | None, high: float | None, sr: int) -> np.ndarray:
    """Second-order sections of a Butterworth high-, low- or band-pass filter (kept for reuse)."""
    if low is not None and high is not None:
        return signal.butter(order, [low, high], "bandpass", fs=sr, output="sos")
    if low is not None:
        return signal.butter(order, low, "highpass", fs=sr, output="sos")
    return signal.butter(order, high, "lowpass", fs=sr, output="sos")


def _peaking_sos(centre_hz: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """One second-order section of a peaking equaliser (boost or cut around ``centre_hz``).

    The classic "audio EQ cookbook" biquad: ``gain_db`` at the centre, 0 dB far from it.
    """
    centre_hz = min(centre_hz, 0.45 * sr)
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * centre_hz / sr
    alpha = np.sin(w0) / (2.0 * q)
    b = [1.0 + alpha * a, -2.0 * np.cos(w0), 1.0 - alpha * a]
    den = [1.0 + alpha / a, -2.0 * np.cos(w0), 1.0 - alpha / a]
    return np.array([b + den]) / den[0]


def equalise(x: np.ndarray, sr: int, peaks: Sequence[tuple[float, float, float]]) -> np.ndarray:
    """Apply peaking filters given as ``(centre Hz, gain dB, Q)``."""
    for centre_hz, gain_db, q in peaks:
        x = signal.sosfilt(_peaking_sos(centre_hz, gain_db, q, sr), x)
    return x


def smooth_track(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """A slowly wandering curve between 0 and 1, shape ``(n,)``.

    Random values ``rate_hz`` times a second, joined by straight lines.
    """
    n_knots = int(n / sr * rate_hz) + 2
    knots = rng.uniform(0.0, 1.0, n_knots)
    return np.interp(np.arange(n), np.linspace(0, n - 1, n_knots), knots)


def harmonic_tone(
    f0: np.ndarray, sr: int, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Sum of harmonics ``k * f0(t)`` with amplitudes ``weights[k - 1]`` and random phases.

    ``f0`` is the fundamental frequency in Hz for every sample, so the pitch can move. Harmonics
    that would pass the Nyquist frequency are left out.
    """
    fundamental = np.exp(2j * np.pi * np.cumsum(f0) / sr)  # a unit phasor turning at f0
    harmonic = np.ones(len(f0), dtype=complex)
    tone = np.zeros(len(f0))
    for k, weight in enumerate(weights, start=1):
        harmonic *= fundamental  # now turning at k * f0
        if k * f0.max() >= 0.45 * sr:
            break
        tone += weight * (harmonic * np.exp(1j * rng.uniform(0.0, 2.0 * np.pi))).imag
    return tone


def decaying_noise(rng: np.random.Generator, sr: int, decay_s: float) -> np.ndarray:
    """A click: white noise with an exponential decay, lasting five decay times."""
    t = np.arange(int(5 * decay_s * sr) + 1) / sr
    return rng.standard_normal(len(t)) * np.exp(-t / decay_s)


def place_events(onsets_s: np.ndarray, amplitudes: np.ndarray, n: int, sr: int) -> np.ndarray:
    """An impulse train: ``amplitudes`` at the ``onsets_s`` (seconds) that fall in the clip."""
    impulses = np.zeros(n)
    index = np.round(np.asarray(onsets_s) * sr).astype(int)
    inside = (index >= 0) & (index < n)
    np.add.at(impulses, index[inside], np.asarray(amplitudes)[inside])
    return impulses
