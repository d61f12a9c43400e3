"""Offline acoustic scenes: a small synthesiser and the writer of a TAU-layout data set.

The course cannot download the TAU Urban Acoustic Scenes 2020 Mobile data set, so it builds a
stand-in with the same folder layout, file names and split files. Every clip is a random mix of
sound components (noise, voices, announcements, music, engines, cars, footsteps, rail clicks,
birds, horns, wind), coloured by the place it was "recorded" at and by a reverberant room, then
passed through a recording device (microphone response, noise floor, clipping).

The pieces, from the bottom up:

* one function per sound component (``coloured_noise``, ``babble``, ``engine``, ...); each takes
  a ``numpy.random.Generator``, a length in samples and a sample rate and returns a mono signal;
* ``SCENE_RECIPES``: which components each scene class mixes, how often and how loud;
* ``synthesize_scene``: one scene segment as heard by an ideal microphone;
* ``device_response`` and ``apply_device``: what a recording device does to it;
* ``make_synthetic_scenes``: the whole data set on disk, in the TAU layout.

Every random draw comes from a generator seeded by (seed, class, location, segment), so a clip
does not depend on the order in which clips are made, and the same arguments always give
byte-identical files.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import fft, signal
from tqdm.auto import tqdm

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

CITIES = (
    "barcelona",
    "helsinki",
    "lisbon",
    "london",
    "lyon",
    "milan",
    "paris",
    "prague",
    "stockholm",
    "vienna",
)
"""The ten cities of TAU Urban Acoustic Scenes 2020 Mobile (development set)."""

DEFAULT_DEVICES = ("a", "b", "c", "s4", "s5", "s6")
"""Default devices: ``a`` reference, ``b`` and ``c`` consumer devices, ``s4``-``s6`` simulated."""

DEFAULT_UNSEEN_DEVICES = ("s4", "s5", "s6")
"""Devices that appear only in the evaluate split of the default data set."""

SEGMENTS_PER_LOCATION = 2
"""Scene segments recorded at each location (the last locations of a class may have fewer)."""

EVALUATE_LOCATION_FRACTION = 1 / 8
"""Share of each class's locations held out for the evaluate split (at least one, never all)."""

EXTRA_DEVICE_EVERY = 3
"""Every third training segment is also rendered on one other training device (b, c, ...)."""

SPEED_OF_SOUND = 343.0  # m/s
MAX_REVERB_S = 1.0  # longest impulse response (s); the pre-roll before a clip fills its tail
README_MARKER = "# Synthetic acoustic scenes"

# Keys that keep the random streams of different purposes apart.
_KEY_SEGMENT, _KEY_LOCATION, _KEY_CITY, _KEY_SPLIT, _KEY_DEVICE, _KEY_DEVICE_NOISE = range(1, 7)
_DEVICE_NAME = re.compile(r"^[a-z0-9]+$")


# ---------------------------------------------------------------------------------------------
# Small signal helpers
# ---------------------------------------------------------------------------------------------


def _rng(*keys: int) -> np.random.Generator:
    """A random generator determined only by ``keys`` (non-negative integers)."""
    return np.random.default_rng(np.random.SeedSequence([int(key) for key in keys]))


def _name_key(name: str) -> int:
    """A stable integer for a name (Python's ``hash`` of a string changes between runs)."""
    return zlib.crc32(name.encode("utf-8"))


def _db(level_db: float) -> float:
    """Amplitude factor of a level in decibels."""
    return 10.0 ** (level_db / 20.0)


def _unit_rms(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to a root-mean-square of 1 (a silent signal stays silent)."""
    rms = np.sqrt(np.mean(x**2))
    return x / rms if rms > 0 else x


def _filter(
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


def _equalise(x: np.ndarray, sr: int, peaks: Sequence[tuple[float, float, float]]) -> np.ndarray:
    """Apply peaking filters given as ``(centre Hz, gain dB, Q)``."""
    for centre_hz, gain_db, q in peaks:
        x = signal.sosfilt(_peaking_sos(centre_hz, gain_db, q, sr), x)
    return x


def _smooth_track(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """A slowly wandering curve between 0 and 1, shape ``(n,)``.

    Random values ``rate_hz`` times a second, joined by straight lines.
    """
    n_knots = int(n / sr * rate_hz) + 2
    knots = rng.uniform(0.0, 1.0, n_knots)
    return np.interp(np.arange(n), np.linspace(0, n - 1, n_knots), knots)


def _harmonic_tone(
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


def _decaying_noise(rng: np.random.Generator, sr: int, decay_s: float) -> np.ndarray:
    """A click: white noise with an exponential decay, lasting five decay times."""
    t = np.arange(int(5 * decay_s * sr) + 1) / sr
    return rng.standard_normal(len(t)) * np.exp(-t / decay_s)


def _place_events(onsets_s: np.ndarray, amplitudes: np.ndarray, n: int, sr: int) -> np.ndarray:
    """An impulse train: ``amplitudes`` at the ``onsets_s`` (seconds) that fall in the clip."""
    impulses = np.zeros(n)
    index = np.round(np.asarray(onsets_s) * sr).astype(int)
    inside = (index >= 0) & (index < n)
    np.add.at(impulses, index[inside], np.asarray(amplitudes)[inside])
    return impulses


def _draw_count(rng: np.random.Generator, count_range: tuple[int, int]) -> int:
    """An integer drawn uniformly from the inclusive range ``(low, high)``."""
    return int(rng.integers(count_range[0], count_range[1] + 1))


# ---------------------------------------------------------------------------------------------
# Sound components. Each returns a mono float64 signal of shape (n,) at sample rate sr (Hz).
# ---------------------------------------------------------------------------------------------


def coloured_noise(rng: np.random.Generator, n: int, sr: int, exponent: float = 1.0) -> np.ndarray:
    """Background noise whose power falls as ``1 / f**exponent``.

    ``exponent`` 0 gives white noise, 1 pink noise (the hum of a city or a hall), 2 brown noise
    (distant traffic, the rumble inside a vehicle); values in between tilt the spectrum.
    Frequencies below 20 Hz are not boosted further.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.
    exponent : float
        Spectral slope; the level falls by ``3 * exponent`` dB per octave.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, root-mean-square 1.
    """
    n_fft = fft.next_fast_len(n, real=True)  # a length the FFT handles quickly
    n_bins = n_fft // 2 + 1
    spectrum = rng.standard_normal(n_bins) + 1j * rng.standard_normal(n_bins)
    freqs = np.maximum(fft.rfftfreq(n_fft, 1.0 / sr), 20.0)
    spectrum *= freqs ** (-exponent / 2.0)
    spectrum[0] = 0.0
    return _unit_rms(fft.irfft(spectrum, n_fft)[:n])


FORMANT_BANDS_HZ = np.array([350.0, 600.0, 1000.0, 1600.0, 2500.0, 3500.0])
"""Centres of the resonances that shape the voices of ``babble`` (rough vowel formant regions)."""

CONSONANT_LEVEL = 0.06
"""Level of the consonant hisses of ``babble``; their power is about 20 dB below the vowels'."""


def babble(
    rng: np.random.Generator, n: int, sr: int, voices: tuple[int, int] = (2, 8)
) -> np.ndarray:
    """Speech-like babble of several talkers.

    Each voice is a pulse train at a wandering pitch (90-250 Hz, the vocal folds), cut into
    syllables of 0.1-0.3 s with a rise-and-fall envelope and random pauses; every syllable gets
    its own "vowel", a random weighting of resonances at ``FORMANT_BANDS_HZ``, and sometimes a
    3.5-9 kHz hiss at its start (a consonant such as "s").

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.
    voices : (int, int)
        Inclusive range of the number of talkers.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, root-mean-square 1.
    """
    n_bands = len(FORMANT_BANDS_HZ)
    tilt = np.linspace(1.0, 0.25, n_bands)  # voices carry less energy at high frequencies
    sources = np.zeros((n_bands, n))  # the glottal pulses that drive each resonance
    consonants = np.zeros(n)  # the onsets of hisses
    for _ in range(_draw_count(rng, voices)):
        pitch = rng.uniform(90.0, 250.0) * (0.9 + 0.2 * _smooth_track(rng, n, sr, 3.0))
        pulses = np.flatnonzero(np.diff(np.floor(np.cumsum(pitch) / sr)))  # one per pitch period
        starts, lengths, loudness = _syllables(rng, n, sr)
        syllable = np.searchsorted(starts, pulses, side="right") - 1
        rise_and_fall = np.sin(np.pi * (pulses - starts[syllable]) / lengths[syllable]) ** 2
        vowels = rng.uniform(0.0, 1.0, (len(starts), n_bands)) ** 2 * tilt
        talker = rng.uniform(0.3, 1.0)  # near and far talkers
        sources[:, pulses] += talker * vowels[syllable].T * (loudness[syllable] * rise_and_fall)
        hissing = (rng.random(len(starts)) < 0.4) & (loudness > 0)
        consonants += _place_events(starts[hissing] / sr, talker * loudness[hissing], n, sr)
    voiced = sum(_filter(row, sr, low=centre / 1.3, high=centre * 1.3, order=1)
                 for centre, row in zip(FORMANT_BANDS_HZ, sources))
    voiced = _filter(voiced, sr, high=800.0, order=1)  # the glottal pulse is soft, not a click
    hiss = _filter(_decaying_noise(rng, sr, 0.015), sr, low=min(3500.0, 0.4 * sr), high=9000.0)
    hisses = signal.oaconvolve(consonants, hiss / np.sqrt(np.sum(hiss**2)))[:n]
    return _unit_rms(voiced + CONSONANT_LEVEL * hisses)


def _syllables(rng: np.random.Generator, n: int, sr: int) -> tuple[np.ndarray, ...]:
    """Cut ``n`` samples into syllables of 0.1-0.3 s, a quarter of them silent pauses.

    Returns the first sample, the length in samples and the loudness (0 for a pause) of each
    syllable, three arrays of the same shape. The first syllable starts at sample 0.
    """
    lengths = rng.uniform(0.1, 0.3, int(n / sr / 0.1) + 2) * sr
    starts = np.cumsum(lengths) - lengths
    loudness = rng.uniform(0.5, 1.0, len(lengths)) * (rng.random(len(lengths)) > 0.25)
    return starts, lengths, loudness


def engine(
    rng: np.random.Generator,
    n: int,
    sr: int,
    f0_hz: tuple[float, float] = (30.0, 80.0),
    harmonics: int = 16,
    rolloff: float = 1.0,
) -> np.ndarray:
    """An engine or electric motor: a harmonic series whose pitch drifts with the speed.

    The fundamental wanders between two frequencies drawn from ``f0_hz`` (a combustion engine's
    firing rate, 25-80 Hz, or the whine of a traction motor, a few hundred Hz); a rough
    amplitude flutter imitates uneven firing and gear noise.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.
    f0_hz : (float, float)
        Range of the fundamental frequency in Hz.
    harmonics : int
        Number of harmonics.
    rolloff : float
        Harmonic ``k`` has amplitude about ``k**-rolloff``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, root-mean-square 1.
    """
    low, high = np.sort(rng.uniform(f0_hz[0], f0_hz[1], 2))
    f0 = low + (high - low) * _smooth_track(rng, n, sr, 0.7)
    k = np.arange(1, harmonics + 1)
    weights = rng.uniform(0.3, 1.0, harmonics) * k ** (-rolloff)
    flutter = 0.7 + 0.6 * _smooth_track(rng, n, sr, 12.0)
    return _unit_rms(_harmonic_tone(f0, sr, weights, rng) * flutter)


def pass_by(
    rng: np.random.Generator, n: int, sr: int, cars: tuple[int, int] = (1, 3)
) -> np.ndarray:
    """Cars driving past: tyre noise and engine harmonics that swell, then fade.

    Each car passes at 8-20 m/s, 3-20 m away, at a random time (possibly just before or after
    the clip). Its amplitude follows ``3 m / distance``, its engine pitch the Doppler shift
    (higher while approaching, lower while leaving), and its tyre noise gets brighter when it is
    close.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.
    cars : (int, int)
        Inclusive range of the number of cars.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``; about 1 (root-mean-square) while a car is 3 m away.
    """
    t = np.arange(n) / sr
    engines, loudness, brightness = np.zeros(n), np.zeros(n), np.zeros(n)
    for _ in range(_draw_count(rng, cars)):
        closest_s = rng.uniform(-0.3, 1.3) * n / sr
        speed = rng.uniform(8.0, 20.0)
        distance = rng.uniform(3.0, 20.0)
        along = speed * (t - closest_s)
        path = np.hypot(distance, along)
        doppler = SPEED_OF_SOUND / (SPEED_OF_SOUND + speed * along / path)
        f0 = rng.uniform(25.0, 60.0) * doppler
        engines += (3.0 / path) * _unit_rms(_harmonic_tone(f0, sr, 1.0 / np.arange(1, 9), rng))
        loudness += 3.0 / path
        brightness += (3.0 / path) * (distance / path)  # (distance / path) is 1 when closest
    # The tyre noise of all cars shares one noise signal, each car adding its own envelope.
    tyres = coloured_noise(rng, n, sr, exponent=rng.uniform(0.8, 1.5))
    hiss = _unit_rms(_filter(tyres, sr, low=2000.0))
    return 0.5 * engines + loudness * tyres + brightness * hiss


def footsteps(
    rng: np.random.Generator, n: int, sr: int, walkers: tuple[int, int] = (1, 4)
) -> np.ndarray:
    """People walking by: short decaying clicks at 1.6-2.3 steps per second per walker.

    The floor (decay time and brightness of a step) is drawn once per call, the loudness per
    walker (near and far) and per step.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.
    walkers : (int, int)
        Inclusive range of the number of walkers.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``; each step of the nearest walker peaks at about 1.
    """
    onsets, amplitudes = [], []
    for _ in range(_draw_count(rng, walkers)):
        rate = rng.uniform(1.6, 2.3)
        steps = np.arange(int(n / sr * rate) + 2) / rate + rng.uniform(-1.0 / rate, 0.0)
        onsets.append(steps + rng.normal(0.0, 0.02, len(steps)))
        amplitudes.append(rng.uniform(0.2, 1.0) * rng.uniform(0.6, 1.0, len(steps)))
    step = _filter(_decaying_noise(rng, sr, rng.uniform(0.004, 0.015)), sr,
                   low=150.0, high=rng.uniform(2000.0, 6000.0))
    impulses = _place_events(np.concatenate(onsets), np.concatenate(amplitudes), n, sr)
    return signal.oaconvolve(impulses, step / np.abs(step).max())[:n]


def rail_clicks(
    rng: np.random.Generator, n: int, sr: int, speed_mps: tuple[float, float] = (6.0, 20.0)
) -> np.ndarray:
    """Wheels crossing rail joints: metallic clicks in pairs (the two axles of a bogie).

    At speed ``v`` a joint comes every ``25 m / v`` seconds; each time, the front bogie's two
    axles click ``2.5 m / v`` apart, and the rear bogie's two (quieter) ``15 m / v`` later.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.
    speed_mps : (float, float)
        Range of the train speed in m/s.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``; each front-bogie click peaks at about 1.
    """
    speed = rng.uniform(*speed_mps)
    joint_s, axle_s, bogie_s = 25.0 / speed, 2.5 / speed, 15.0 / speed
    joints = rng.uniform(-joint_s, 0.0) + np.arange(int(n / sr / joint_s) + 2) * joint_s
    pattern = np.array([0.0, axle_s, bogie_s, bogie_s + axle_s])
    onsets = (joints[:, None] + pattern).ravel()
    amplitudes = np.tile([1.0, 0.9, 0.6, 0.5], len(joints)) * rng.uniform(0.7, 1.0, len(onsets))
    t = np.arange(int(0.2 * sr)) / sr
    click = sum(np.sin(2 * np.pi * f * t) * np.exp(-t / rng.uniform(0.01, 0.04))
                for f in rng.uniform(300.0, min(3000.0, 0.4 * sr), 3))  # the wheel rings
    knock = _decaying_noise(rng, sr, 0.002)  # the impact that starts the ringing
    click[: len(knock)] += 2.0 * knock
    impulses = _place_events(onsets, amplitudes, n, sr)
    return signal.oaconvolve(impulses, click / np.abs(click).max())[:n]


def birds(
    rng: np.random.Generator, n: int, sr: int, singers: tuple[int, int] = (1, 3)
) -> np.ndarray:
    """Bird song: phrases of fast frequency sweeps (chirps) between 1.2 and 9 kHz.

    Each bird has its own chirp (start frequency, sweep, length 30-120 ms) and repeats it 2-6
    times per phrase, 0.5-2 phrases per second.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.
    singers : (int, int)
        Inclusive range of the number of birds.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``; the chirps of the nearest bird peak at about 1.
    """
    out = np.zeros(n)
    duration = n / sr
    for _ in range(_draw_count(rng, singers)):
        start_hz = min(rng.uniform(2000.0, 5000.0), 0.3 * sr)
        end_hz = min(start_hz * rng.uniform(0.6, 1.8), 0.4 * sr)
        chirp_len = int(rng.uniform(0.03, 0.12) * sr)
        gap_s = chirp_len / sr + rng.uniform(0.03, 0.12)
        loudness = rng.uniform(0.2, 1.0)
        phrases = np.cumsum(rng.exponential(1.0 / rng.uniform(0.5, 2.0), int(4 * duration) + 4))
        for phrase_s in phrases[phrases < duration] - rng.uniform(0.0, 1.0):
            for i in range(_draw_count(rng, (2, 6))):
                start = int((phrase_s + i * gap_s) * sr)
                if not 0 <= start < n:
                    continue
                frac = np.arange(chirp_len) / chirp_len
                freq = (start_hz + (end_hz - start_hz) * frac) * rng.uniform(0.95, 1.05)
                chirp = np.sin(np.pi * frac) ** 2 * np.sin(2 * np.pi * np.cumsum(freq) / sr)
                stop = min(n, start + chirp_len)
                out[start:stop] += loudness * chirp[: stop - start]
    return out


CHIME_RATIOS = (1.0, 5 / 4, 3 / 2, 2.0)
"""Pitch ratios of chime notes (a major chord), relative to the chime's lowest note."""


def chimes(rng: np.random.Generator, n: int, sr: int, start_s: float) -> np.ndarray:
    """The "ding-dong" before an announcement: 2-4 bell notes that ring out.

    Each note is a sine at a chord tone of a 400-900 Hz base with a weaker inharmonic partial
    (2.76 times higher, as in a bell), decaying exponentially over 0.3-0.8 s.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.
    start_s : float
        Time of the first note in seconds from the start of the clip (may be negative).

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``; each note starts with an amplitude of about 1.
    """
    t = np.arange(n) / sr
    base = rng.uniform(400.0, 900.0)
    note_gap = rng.uniform(0.3, 0.6)
    decay = rng.uniform(0.3, 0.8)
    out = np.zeros(n)
    for i, ratio in enumerate(rng.choice(CHIME_RATIOS, _draw_count(rng, (2, 4)))):
        since = t - (start_s + i * note_gap)
        ringing = (since >= 0) * np.exp(-np.maximum(since, 0.0) / decay)
        freq = base * ratio
        partial = np.sin(2 * np.pi * 2.76 * freq * since) if 2.76 * freq < 0.45 * sr else 0.0
        out += ringing * (np.sin(2 * np.pi * freq * since) + 0.3 * partial)
    return out


def announcement(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """A public-address announcement: a chime, then one voice through a loudspeaker.

    The loudspeaker passes only 300-3400 Hz. The chime starts anywhere from 3 s before the
    clip to its end, so a short clip may hear only the chime, only the voice, or both.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``; chime notes start at about 1, the voice has root-mean-square about 1
        while it speaks.
    """
    start_s = rng.uniform(-3.0, n / sr)
    voice_from_s = start_s + rng.uniform(1.2, 2.0)
    voice = _filter(babble(rng, n, sr, voices=(1, 1)), sr, low=300.0, high=3400.0, order=4)
    speaking = np.arange(n) / sr >= voice_from_s
    return chimes(rng, n, sr, start_s) + _unit_rms(voice) * speaking


MUSIC_CHORDS = ((0, 4, 7), (5, 9, 12), (7, 11, 14), (9, 12, 16))
"""Chords of the background music, in semitones above its key note (I, IV, V, vi of a major key)."""


def music(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Background music from loudspeakers: a chord progression of soft organ-like tones.

    Three voices play random chords of ``MUSIC_CHORDS`` (a new chord every 0.4-1 s) in a random
    key between 130 and 260 Hz; each chord swells, then fades; the loudspeakers pass
    150-6000 Hz.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, root-mean-square 1.
    """
    chord_len = int(rng.uniform(0.4, 1.0) * sr)
    n_chords = n // chord_len + 1
    chords = np.array(MUSIC_CHORDS)[rng.integers(len(MUSIC_CHORDS), size=n_chords)]
    key_hz = rng.uniform(130.0, 260.0)
    bar_position = (np.arange(n) % chord_len) / chord_len
    swell = np.minimum(1.0, 8.0 * bar_position) * (1.0 - 0.5 * bar_position)  # each chord fades
    weights = 0.6 ** np.arange(4)  # four harmonics, each softer
    tones = 0.0
    for semitones in chords.T:  # one voice of the three
        f0 = np.repeat(key_hz * 2.0 ** (semitones / 12.0), chord_len)[:n]
        tones = tones + _harmonic_tone(f0, sr, weights, rng)
    return _unit_rms(_filter(tones * swell, sr, low=150.0, high=6000.0))


def horns(
    rng: np.random.Generator, n: int, sr: int, toots: tuple[int, int] = (1, 2)
) -> np.ndarray:
    """Car horns: 0.15-0.8 s toots of two buzzy tones a major third apart (330-480 Hz).

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.
    toots : (int, int)
        Inclusive range of the number of toots.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``; root-mean-square about 1 during a toot.
    """
    out = np.zeros(n)
    weights = 1.0 / np.arange(1, 11)  # rich in harmonics, like a square-ish wave
    for _ in range(_draw_count(rng, toots)):
        length = int(rng.uniform(0.15, 0.8) * sr)
        start = int(rng.uniform(-0.5 * length, n))
        first, stop = max(start, 0), min(start + length, n)
        if stop <= first:
            continue
        t = np.arange(first - start, stop - start) / sr
        ramp = np.minimum(1.0, np.minimum(t, length / sr - t) / 0.01)  # 10 ms attack and release
        pitch = rng.uniform(330.0, 480.0)
        pair = sum(_harmonic_tone(np.full(len(t), f0), sr, weights, rng)
                   for f0 in (pitch, 1.26 * pitch))
        out[first:stop] += ramp * pair / 1.3
    return out


def wind(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Wind: gusty low-frequency rumble plus the rustle of leaves in the stronger gusts.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Length in samples.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, root-mean-square 1.
    """
    gusts = 0.2 + 0.8 * _smooth_track(rng, n, sr, rng.uniform(0.5, 2.0))
    rumble = _filter(coloured_noise(rng, n, sr, 1.0), sr, high=rng.uniform(150.0, 600.0))
    rustle = _filter(rng.standard_normal(n), sr, low=2000.0)
    leaves = rng.uniform(0.0, 0.5)
    return _unit_rms(_unit_rms(rumble) * gusts + leaves * _unit_rms(rustle) * gusts**2)


def reverberate(
    rng: np.random.Generator, x: np.ndarray, sr: int, rt60_s: float, direct_db: float
) -> np.ndarray:
    """Room reverberation: ``x`` plus its convolution with a decaying-noise impulse response.

    The impulse response is white noise under an exponential envelope that falls by 60 dB in
    ``rt60_s`` seconds (cut at ``MAX_REVERB_S``), gently low-passed because air and walls
    absorb high frequencies. Halls ring for seconds, vehicles and open air for a fraction of a
    second. The first ``min(rt60_s, MAX_REVERB_S)`` seconds of ``x`` should be a pre-roll that
    is dropped afterwards, so that the clip starts with a reverberant tail already ringing.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    rng : numpy.random.Generator
    x : numpy.ndarray
        Dry signal, shape ``(n,)``.
    sr : int
        Sample rate in Hz.
    rt60_s : float
        Reverberation time in seconds.
    direct_db : float
        Level of the dry (direct) sound relative to the reverberant sound, in dB.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``.
    """
    t = np.arange(int(min(rt60_s, MAX_REVERB_S) * sr) + 1) / sr
    response = rng.standard_normal(len(t)) * 10.0 ** (-3.0 * t / rt60_s)
    response = _unit_rms(_filter(response, sr, high=6000.0, order=1)) / np.sqrt(len(t))
    wet = signal.oaconvolve(x, response)[: len(x)]
    return _db(direct_db) * x + wet


# ---------------------------------------------------------------------------------------------
# Scene recipes and locations
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One sound component of a scene recipe.

    Attributes
    ----------
    sound : callable
        A component function such as ``babble``, called as ``sound(rng, n, sr, **options)``.
    probability : float
        Chance that a clip of the scene contains this component.
    level_db : (float, float)
        Range of its level in dB (0 dB: as loud as unit-RMS noise; the background noise itself
        sits at ``BACKGROUND_DB``).
    options : dict
        Extra keyword arguments for ``sound``.
    """

    sound: Callable[..., np.ndarray]
    probability: float
    level_db: tuple[float, float]
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SceneRecipe:
    """How a scene class sounds: its background, room, loudness and sound components.

    Attributes
    ----------
    loudness_db : (float, float)
        Range of the clip level (root-mean-square, dB relative to full scale).
    rt60_s : (float, float)
        Range of the reverberation time in seconds (indoors longer than outdoors).
    direct_db : (float, float)
        Range of the direct-to-reverberant level ratio in dB.
    noise_exponent : (float, float)
        Range of the slope of the background noise (see ``coloured_noise``).
    parts : dict of str to Part
        The sound components that may be mixed in.
    """

    loudness_db: tuple[float, float]
    rt60_s: tuple[float, float]
    direct_db: tuple[float, float]
    noise_exponent: tuple[float, float]
    parts: dict[str, Part]


DIESEL = {"f0_hz": (25.0, 70.0), "harmonics": 20, "rolloff": 0.8}
"""``engine`` options for a combustion engine (bus, cars)."""

TRACTION_MOTOR = {"f0_hz": (150.0, 900.0), "harmonics": 5, "rolloff": 1.5}
"""``engine`` options for the whine of an electric traction motor (metro, tram)."""

CROWD = {"voices": (4, 12)}
FEW_VOICES = {"voices": (1, 4)}

SCENE_RECIPES: dict[str, SceneRecipe] = {
    "airport": SceneRecipe(
        loudness_db=(-34, -28), rt60_s=(1.4, 2.8), direct_db=(-6, 2), noise_exponent=(1.1, 1.5),
        parts={
            "babble": Part(babble, 1.0, (-4, 4), {"voices": (3, 8)}),
            "footsteps": Part(footsteps, 0.6, (-6, 2)),
            "announcement": Part(announcement, 0.7, (2, 10)),
            "music": Part(music, 0.1, (-6, 0)),
        },
    ),
    "bus": SceneRecipe(
        loudness_db=(-29, -21), rt60_s=(0.2, 0.5), direct_db=(2, 8), noise_exponent=(1.4, 1.9),
        parts={
            "engine": Part(engine, 0.95, (6, 14), DIESEL),
            "babble": Part(babble, 0.5, (-4, 4), FEW_VOICES),
            "pass_by": Part(pass_by, 0.3, (-8, 0)),
            "announcement": Part(announcement, 0.1, (-4, 2)),
        },
    ),
    "metro": SceneRecipe(
        loudness_db=(-25, -17), rt60_s=(0.3, 0.9), direct_db=(0, 6), noise_exponent=(1.4, 1.9),
        parts={
            "motor": Part(engine, 0.95, (2, 10), TRACTION_MOTOR),
            "rail": Part(rail_clicks, 0.85, (0, 8)),
            "babble": Part(babble, 0.5, (-6, 2), FEW_VOICES),
            "announcement": Part(announcement, 0.25, (-4, 4)),
        },
    ),
    "metro_station": SceneRecipe(
        loudness_db=(-26, -18), rt60_s=(0.8, 1.8), direct_db=(-2, 6), noise_exponent=(1.3, 1.8),
        parts={
            "motor": Part(engine, 0.9, (2, 10), TRACTION_MOTOR),
            "rail": Part(rail_clicks, 0.8, (0, 8)),
            "babble": Part(babble, 0.8, (-2, 6), {"voices": (2, 6)}),
            "announcement": Part(announcement, 0.4, (0, 8)),
            "footsteps": Part(footsteps, 0.4, (-8, 0)),
        },
    ),
    "park": SceneRecipe(
        loudness_db=(-39, -31), rt60_s=(0.05, 0.3), direct_db=(4, 12), noise_exponent=(0.8, 1.3),
        parts={
            "birds": Part(birds, 0.95, (4, 12)),
            "wind": Part(wind, 0.7, (-2, 6)),
            "pass_by": Part(pass_by, 0.3, (-14, -6)),
            "babble": Part(babble, 0.3, (-10, -2), FEW_VOICES),
            "footsteps": Part(footsteps, 0.3, (-10, -2)),
        },
    ),
    "public_square": SceneRecipe(
        loudness_db=(-36, -30), rt60_s=(0.1, 0.6), direct_db=(2, 10), noise_exponent=(0.9, 1.4),
        parts={
            "babble": Part(babble, 0.9, (0, 8), CROWD),
            "footsteps": Part(footsteps, 0.7, (-4, 4)),
            "birds": Part(birds, 0.4, (0, 8)),
            "wind": Part(wind, 0.6, (-2, 6)),
            "pass_by": Part(pass_by, 0.4, (-8, 0)),
        },
    ),
    "shopping_mall": SceneRecipe(
        loudness_db=(-29, -23), rt60_s=(0.6, 1.4), direct_db=(-4, 4), noise_exponent=(0.5, 0.9),
        parts={
            "babble": Part(babble, 1.0, (4, 12), CROWD),
            "footsteps": Part(footsteps, 0.8, (-4, 4)),
            "announcement": Part(announcement, 0.15, (-2, 6)),
            "music": Part(music, 0.8, (0, 8)),
        },
    ),
    "street_pedestrian": SceneRecipe(
        loudness_db=(-29, -23), rt60_s=(0.2, 0.8), direct_db=(0, 8), noise_exponent=(1.2, 1.7),
        parts={
            "babble": Part(babble, 0.9, (-2, 6), {"voices": (2, 8)}),
            "footsteps": Part(footsteps, 0.9, (0, 8)),
            "pass_by": Part(pass_by, 0.8, (0, 8)),
            "birds": Part(birds, 0.15, (-8, 0)),
            "horn": Part(horns, 0.05, (-4, 4)),
        },
    ),
    "street_traffic": SceneRecipe(
        loudness_db=(-27, -19), rt60_s=(0.1, 0.5), direct_db=(3, 12), noise_exponent=(1.5, 2.0),
        parts={
            "pass_by": Part(pass_by, 0.95, (4, 12), {"cars": (1, 4)}),
            "engine": Part(engine, 0.6, (-4, 4), DIESEL),
            "horn": Part(horns, 0.25, (0, 8)),
            "footsteps": Part(footsteps, 0.2, (-10, -2)),
            "wind": Part(wind, 0.3, (-6, 2)),
        },
    ),
    "tram": SceneRecipe(
        loudness_db=(-31, -25), rt60_s=(0.3, 0.6), direct_db=(0, 6), noise_exponent=(1.2, 1.7),
        parts={
            "motor": Part(engine, 0.8, (0, 8), {**TRACTION_MOTOR, "f0_hz": (100.0, 600.0)}),
            "rail": Part(rail_clicks, 0.7, (-4, 4), {"speed_mps": (4.0, 14.0)}),
            "babble": Part(babble, 0.5, (-4, 4), FEW_VOICES),
            "pass_by": Part(pass_by, 0.6, (-2, 6)),
            "announcement": Part(announcement, 0.15, (-4, 2)),
        },
    ),
}
"""The sound of each scene class. Classes share components (voices in airports, malls, stations
and streets; engines in buses, trams, metros and traffic), so no single sound gives a class away."""

BACKGROUND_DB = -8.0
"""Level of the background noise in dB, on the same scale as the components' ``level_db``."""

LOCATION_LEVEL_SPREAD_DB = 1.5
"""Each location raises or lowers each component by up to this many dB, for all its clips."""

LOCATION_COLOUR_DB = 1.5
"""Each location's two tone-colour filters boost or cut by up to this many dB."""


@dataclass(frozen=True)
class Place:
    """The persistent character of one recording location, shared by all its segments.

    Attributes
    ----------
    rt60_s, direct_db, noise_exponent, loudness_db : float
        The location's room and level (drawn from its class's ``SceneRecipe`` ranges).
    part_offsets_db : dict of str to float
        Level offset of each component at this location, in dB.
    colour : tuple of (float, float, float)
        Two peaking filters ``(centre Hz, gain dB, Q)``: the location's own tone colour.
    """

    rt60_s: float
    direct_db: float
    noise_exponent: float
    loudness_db: float
    part_offsets_db: dict[str, float]
    colour: tuple[tuple[float, float, float], ...]


def location_character(scene: str, location: int, seed: int = 0) -> Place:
    """The character of location ``location`` of class ``scene`` (deterministic in its inputs).

    Used by: Chapter 1 (listening), Chapter 2 (training data).
    """
    recipe = SCENE_RECIPES[scene]
    rng = _rng(seed, _KEY_LOCATION, SCENE_CLASSES.index(scene), location)
    return Place(
        rt60_s=rng.uniform(*recipe.rt60_s),
        direct_db=rng.uniform(*recipe.direct_db),
        noise_exponent=rng.uniform(*recipe.noise_exponent),
        loudness_db=rng.uniform(*recipe.loudness_db),
        part_offsets_db={
            name: rng.uniform(-LOCATION_LEVEL_SPREAD_DB, LOCATION_LEVEL_SPREAD_DB)
            for name in recipe.parts
        },
        colour=tuple(
            (
                np.exp(rng.uniform(np.log(100.0), np.log(8000.0))),  # centre, 100 Hz to 8 kHz
                rng.uniform(-LOCATION_COLOUR_DB, LOCATION_COLOUR_DB),
                rng.uniform(0.7, 2.0),
            )
            for _ in range(2)
        ),
    )


def synthesize_scene(
    scene: str,
    *,
    duration: float = 1.0,
    sr: int = 44100,
    seed: int = 0,
    location: int = 1000,
    segment: int = 0,
) -> np.ndarray:
    """One scene segment as an ideal microphone at the location would hear it.

    Background noise plus each component of the class's recipe that the dice allow, at random
    levels around the location's own, coloured by the location, reverberated by its room and
    scaled to a random clip level. Devices are applied afterwards (``apply_device``).

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    scene : str
        One of ``SCENE_CLASSES``.
    duration : float
        Length in seconds.
    sr : int
        Sample rate in Hz.
    seed : int
        Seed of the whole data set.
    location, segment : int
        Which location of the class, and which segment recorded there.

    Returns
    -------
    numpy.ndarray
        Shape ``(round(duration * sr),)``, float64, peaks below 0.5 (full scale is 1).
    """
    recipe = SCENE_RECIPES[scene]
    place = location_character(scene, location, seed)
    rng = _rng(seed, _KEY_SEGMENT, SCENE_CLASSES.index(scene), location, segment)
    n = round(duration * sr)
    rt60_s = place.rt60_s * rng.uniform(0.9, 1.1)
    pre_roll = int(min(rt60_s, MAX_REVERB_S) * sr)  # long enough to fill the reverberant tail
    total = n + pre_roll

    exponent = place.noise_exponent + rng.uniform(-0.1, 0.1)
    mix = _db(BACKGROUND_DB) * coloured_noise(rng, total, sr, exponent)
    for name, part in recipe.parts.items():
        if rng.random() < part.probability:
            level_db = rng.uniform(*part.level_db) + place.part_offsets_db[name]
            mix += _db(level_db) * part.sound(rng, total, sr, **part.options)
    mix = _equalise(mix, sr, place.colour)
    mix = reverberate(rng, mix, sr, rt60_s, place.direct_db + rng.uniform(-1.5, 1.5))[pre_roll:]

    mix = _unit_rms(mix) * _db(place.loudness_db + rng.uniform(-2, 2))
    peak = np.abs(mix).max()
    return mix * 0.5 / peak if peak > 0.5 else mix


# ---------------------------------------------------------------------------------------------
# Recording devices
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceResponse:
    """What a recording device does to the sound reaching it.

    Attributes
    ----------
    highpass_hz : float
        Cut-off of the low-frequency roll-off (small microphones lose the bass), in Hz.
    lowpass_hz : float or None
        Cut-off of the high-frequency roll-off or codec band limit, in Hz; None for none.
    order : int
        Butterworth order of both roll-offs (higher is steeper).
    peaks : tuple of (float, float, float)
        Resonances and dips of the microphone and casing: ``(centre Hz, gain dB, Q)``.
    gain_db : float
        Input gain in dB (automatic gain control, preamp).
    noise_db : float
        Level of the device's own hiss, dB relative to full scale.
    clip_level : float or None
        Level where the preamp saturates (soft clipping, ``tanh``); None for none.
    """

    highpass_hz: float
    lowpass_hz: float | None
    order: int
    peaks: tuple[tuple[float, float, float], ...]
    gain_db: float
    noise_db: float
    clip_level: float | None


DEVICE_RESPONSES: dict[str, DeviceResponse] = {
    # a: a good reference microphone and recorder, nearly flat.
    "a": DeviceResponse(20.0, None, 2, (), 0.0, -90.0, None),
    # b, c: consumer devices (phone, camera): band-limited, a presence peak, some hiss.
    "b": DeviceResponse(80.0, 16000.0, 4, ((2500.0, 3.0, 1.0),), 2.0, -72.0, 0.9),
    "c": DeviceResponse(
        150.0, 11000.0, 6, ((900.0, -3.0, 1.0), (4000.0, 4.0, 2.0)), -2.0, -66.0, 0.8
    ),
    # s4-s6: simulated devices unlike any in training.
    "s4": DeviceResponse(150.0, 12000.0, 4, ((1500.0, 4.0, 2.0),), 2.0, -70.0, 0.8),
    "s5": DeviceResponse(100.0, 9000.0, 4, ((200.0, 6.0, 1.0),), 0.0, -65.0, None),
    "s6": DeviceResponse(
        200.0, 16000.0, 4, ((6000.0, 6.0, 3.0), (2000.0, -4.0, 1.0)), 3.0, -72.0, 0.7
    ),
}
"""Hand-designed responses of the default devices."""


def device_response(name: str, seed: int = 0, reference: bool = False) -> DeviceResponse:
    """The response of device ``name``.

    The default devices (``DEVICE_RESPONSES``) are hand-designed. Any other device gets a
    response drawn from its name and ``seed`` (the same every time), unless it is the
    ``reference`` device of its data set, which is flat like ``a``.

    Used by: Chapter 1 (listening), Chapter 2 (training data).
    """
    if name in DEVICE_RESPONSES:
        return DEVICE_RESPONSES[name]
    if reference:
        return DEVICE_RESPONSES["a"]
    rng = _rng(seed, _KEY_DEVICE, _name_key(name))
    return DeviceResponse(
        highpass_hz=float(np.exp(rng.uniform(np.log(40.0), np.log(400.0)))),
        lowpass_hz=float(np.exp(rng.uniform(np.log(4000.0), np.log(16000.0)))),
        order=int(rng.integers(2, 9)),
        peaks=tuple(
            (float(np.exp(rng.uniform(np.log(200.0), np.log(8000.0)))),
             float(rng.uniform(-8.0, 8.0)), float(rng.uniform(0.7, 3.0)))
            for _ in range(_draw_count(rng, (1, 2)))
        ),
        gain_db=float(rng.uniform(-4.0, 8.0)),
        noise_db=float(rng.uniform(-75.0, -58.0)),
        clip_level=float(rng.uniform(0.3, 1.0)) if rng.random() < 0.5 else None,
    )


def apply_device(
    x: np.ndarray, sr: int, response: DeviceResponse, rng: np.random.Generator
) -> np.ndarray:
    """Record ``x`` with a device: its frequency response, gain, hiss and clipping, in that order.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    x : numpy.ndarray
        The scene as an ideal microphone hears it, shape ``(n,)``.
    sr : int
        Sample rate in Hz.
    response : DeviceResponse
    rng : numpy.random.Generator
        Source of the device's hiss.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``.
    """
    y = _filter(x, sr, low=response.highpass_hz, high=response.lowpass_hz, order=response.order)
    y = _equalise(y, sr, response.peaks) * _db(response.gain_db)
    y = y + _db(response.noise_db) * rng.standard_normal(len(y))
    if response.clip_level is not None:
        y = response.clip_level * np.tanh(y / response.clip_level)
    return y


# ---------------------------------------------------------------------------------------------
# The data set on disk
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """One audio file of the data set: a scene segment as recorded by one device."""

    scene: str
    city: str
    location: int
    segment: int
    device: str
    split: str  # "train" or "evaluate"

    @property
    def filename(self) -> str:
        """Path relative to the data-set root, as in TAU.

        ``audio/<scene>-<city>-<location>-<segment>-<device>.wav``
        """
        return f"audio/{self.scene}-{self.city}-{self.location}-{self.segment}-{self.device}.wav"

    @property
    def identifier(self) -> str:
        """The recording location, as in TAU: ``<city>-<location>``."""
        return f"{self.city}-{self.location}"


def plan_clips(
    clips_per_class: int,
    devices: Sequence[str] = DEFAULT_DEVICES,
    unseen_devices: Sequence[str] = DEFAULT_UNSEEN_DEVICES,
    seed: int = 0,
) -> list[Clip]:
    """The clips of the data set, without any audio.

    Each class has ``clips_per_class`` scene segments, spread over locations of
    ``SEGMENTS_PER_LOCATION`` segments (at least two locations). A share
    ``EVALUATE_LOCATION_FRACTION`` of the locations (at least one, never all) forms the evaluate
    split, so no location is in both splits. As in TAU, where the devices recorded the same
    segments side by side:

    * an evaluate segment is rendered on every device (the split is balanced over devices);
    * a training segment is rendered on the reference device ``devices[0]``, and every
      ``EXTRA_DEVICE_EVERY``-th one also on one of the other devices that are not in
      ``unseen_devices``, taking turns; unseen devices never appear in training.

    Used by: Chapter 2 (training data).
    """
    reference, *others = devices
    seen_others = [device for device in others if device not in unseen_devices]
    n_locations = max(2, -(-clips_per_class // SEGMENTS_PER_LOCATION))
    n_evaluate = min(n_locations - 1, max(1, round(n_locations * EVALUATE_LOCATION_FRACTION)))
    clips = []
    for class_index, scene in enumerate(SCENE_CLASSES):
        locations = 1000 + class_index * n_locations + np.arange(n_locations)
        split_rng = _rng(seed, _KEY_SPLIT, class_index)
        evaluate_locations = set(split_rng.choice(locations, n_evaluate, replace=False).tolist())
        n_train = 0
        for index in range(clips_per_class):
            location = int(locations[index % n_locations])
            segment = index // n_locations
            city = CITIES[_rng(seed, _KEY_CITY, location).integers(len(CITIES))]
            if location in evaluate_locations:
                split, recorded_by = "evaluate", list(devices)
            else:
                split, recorded_by = "train", [reference]
                if seen_others and n_train % EXTRA_DEVICE_EVERY == 0:
                    turn = n_train // EXTRA_DEVICE_EVERY % len(seen_others)
                    recorded_by.append(seen_others[turn])
                n_train += 1
            clips += [Clip(scene, city, location, segment, device, split) for device in recorded_by]
    return clips


def _check_arguments(clips_per_class, duration, sr, devices, unseen_devices, seed) -> None:
    """Raise ``ValueError`` with a clear message for an argument that cannot be used."""
    if isinstance(clips_per_class, bool) or not isinstance(clips_per_class, (int, np.integer)):
        raise ValueError(f"clips_per_class must be an integer, got {clips_per_class!r}")
    if clips_per_class < 2:
        raise ValueError(
            f"clips_per_class must be at least 2 (one training and one evaluate location), "
            f"got {clips_per_class}"
        )
    if not np.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr < 8000:
        raise ValueError(f"sr must be an integer sample rate of at least 8000 Hz, got {sr!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(devices, str) or len(devices) == 0:
        raise ValueError(f"devices must be a non-empty sequence of device names, got {devices!r}")
    for device in devices:
        if not isinstance(device, str) or not _DEVICE_NAME.match(device):
            raise ValueError(
                f"device names must be lower-case letters and digits (they go into file names), "
                f"got {device!r}"
            )
    if len(set(devices)) != len(devices):
        raise ValueError(f"devices must not repeat, got {devices!r}")
    if isinstance(unseen_devices, str):
        raise ValueError(
            f"unseen_devices must be a sequence of device names, got {unseen_devices!r}"
        )
    unknown = [device for device in unseen_devices if device not in devices]
    if unknown:
        raise ValueError(f"unseen devices {unknown} are not among devices {tuple(devices)}")
    if devices[0] in unseen_devices:
        raise ValueError(
            f"the reference device {devices[0]!r} (the first of devices) cannot be unseen"
        )


def _write_wav(path: Path, x: np.ndarray, sr: int) -> None:
    """Save float samples (full scale 1) as a mono 16-bit PCM WAV file.

    The samples are rounded and limited to full scale here, so the file does not depend on how
    the audio library converts floats. The file is assembled in memory and written at once,
    which is much faster than letting the library write (and flush) it piece by piece.
    """
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)
    buffer = io.BytesIO()
    sf.write(buffer, pcm, sr, subtype="PCM_16", format="WAV")
    path.write_bytes(buffer.getvalue())


def _write_table(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A tab-separated file with a header line, as in TAU's meta.csv and split files."""
    lines = ["\t".join(header)] + ["\t".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _remove_stale_audio(root: Path, clips: Sequence[Clip]) -> None:
    """Delete WAV files that an earlier synthetic set left in ``root/audio`` and this one lacks.

    Refuses (``ValueError``) to touch a folder that was not made by this module, so that a real
    data set is never overwritten by mistake.
    """
    wanted = {Path(clip.filename).name for clip in clips}
    stale = sorted(p for p in (root / "audio").glob("*.wav") if p.name not in wanted)
    if not stale:
        return
    readme = root / "README.md"
    if not (readme.is_file() and readme.read_text(encoding="utf-8").startswith(README_MARKER)):
        raise ValueError(
            f"{root} already holds audio that is not from make_synthetic_scenes; choose an empty "
            f"or new folder"
        )
    for path in stale:
        path.unlink()


def _readme(clips: Sequence[Clip], arguments: dict) -> str:
    """The text of ``root/README.md``: what the data is and how to make it again."""
    lines = []
    for split in ("train", "evaluate"):
        in_split = [clip for clip in clips if clip.split == split]
        by_device = ", ".join(
            f"{device}: {sum(clip.device == device for clip in in_split)}"
            for device in arguments["devices"]
            if any(clip.device == device for clip in in_split)
        )
        lines.append(f"- {split}: {len(in_split)} clips ({by_device})")
    per_split = "\n".join(lines)
    call = ", ".join(f"{name}={value!r}" for name, value in arguments.items())
    return (
        f"{README_MARKER}\n\n"
        "Synthetic audio, not recordings: every clip is a random mix of synthesised sounds\n"
        "(noise, voices, announcements, music, engines, cars, footsteps, rail clicks, birds,\n"
        "horns, wind) with room reverberation and a simulated recording device. The folder has\n"
        "the layout of the TAU Urban Acoustic Scenes 2020 Mobile development set (audio/,\n"
        "meta.csv, evaluation_setup/fold1_*.csv).\n\n"
        "Made by `audioprune_lite.synthetic.make_synthetic_scenes` with\n"
        f"`{call}`; the same arguments give the same files.\n\n"
        f"{per_split}\n"
    )


def make_synthetic_scenes(
    root: str | Path,
    *,
    clips_per_class: int = 100,
    duration: float = 1.0,
    sr: int = 44100,
    devices: Sequence[str] = DEFAULT_DEVICES,
    unseen_devices: Sequence[str] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write a synthetic acoustic-scene data set in the TAU Urban Acoustic Scenes 2020 layout.

    Files written under ``root``:

    * ``audio/<scene>-<city>-<location>-<segment>-<device>.wav``: mono 16-bit PCM;
    * ``meta.csv``: ``filename``, ``scene_label``, ``identifier`` (``<city>-<location>``),
      ``source_label`` (the device), tab-separated;
    * ``evaluation_setup/fold1_train.csv`` and ``fold1_evaluate.csv`` (``filename``,
      ``scene_label``) and ``fold1_test.csv`` (``filename``: the evaluate files, unlabelled);
    * ``README.md``: what the data is and the arguments that made it.

    With the defaults: 100 segments per class at 50 locations (two segments each), 6 of them
    held out for evaluation; 1,180 training clips (880 on device ``a``, 150 each on ``b`` and
    ``c``) and 720 evaluate clips (120 on each of the six devices); 1 s each.

    Used by: Chapter 1 (listening), Chapter 2 (training data).

    Parameters
    ----------
    root : str or pathlib.Path
        Output folder (created if needed).
    clips_per_class : int
        Number of scene segments per class, at least 2. Each segment is rendered on one or
        more devices (see ``plan_clips``), so the number of files is larger.
    duration : float
        Length of each clip in seconds.
    sr : int
        Sample rate in Hz, at least 8000.
    devices : sequence of str
        Device names (lower-case letters and digits); the first is the reference device that
        dominates training.
    unseen_devices : sequence of str or None
        Devices kept out of training (they appear only in the evaluate split). None means those
        of ``DEFAULT_UNSEEN_DEVICES`` that are in ``devices``.
    seed : int
        Seed of all random draws; the same arguments give byte-identical files.
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        ``root``, as an absolute path.

    Raises
    ------
    ValueError
        For an argument out of range, or a ``root`` holding audio from elsewhere.
    """
    if unseen_devices is None:
        unseen_devices = tuple(d for d in DEFAULT_UNSEEN_DEVICES if d in devices)
    _check_arguments(clips_per_class, duration, sr, devices, unseen_devices, seed)
    devices, unseen_devices = tuple(devices), tuple(unseen_devices)
    root = Path(root).resolve()
    clips = plan_clips(int(clips_per_class), devices, unseen_devices, int(seed))
    _remove_stale_audio(root, clips)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "evaluation_setup").mkdir(exist_ok=True)

    responses = {d: device_response(d, seed, reference=(d == devices[0])) for d in devices}
    segments: dict[tuple[str, int, int], list[Clip]] = {}
    for clip in clips:
        segments.setdefault((clip.scene, clip.location, clip.segment), []).append(clip)
    for (scene, location, segment), recordings in tqdm(
        segments.items(), desc="Synthesising scenes", unit="segment", disable=not progress
    ):
        scene_audio = synthesize_scene(
            scene, duration=duration, sr=sr, seed=seed, location=location, segment=segment
        )
        for clip in recordings:
            hiss_rng = _rng(seed, _KEY_DEVICE_NOISE, SCENE_CLASSES.index(scene), location, segment,
                            _name_key(clip.device))
            audio = apply_device(scene_audio, sr, responses[clip.device], hiss_rng)
            _write_wav(root / clip.filename, audio, sr)

    clips = sorted(clips, key=lambda clip: clip.filename)
    train = [c for c in clips if c.split == "train"]
    evaluate = [c for c in clips if c.split == "evaluate"]
    _write_table(root / "meta.csv", ("filename", "scene_label", "identifier", "source_label"),
                 [(c.filename, c.scene, c.identifier, c.device) for c in clips])
    setup = root / "evaluation_setup"
    _write_table(setup / "fold1_train.csv", ("filename", "scene_label"),
                 [(c.filename, c.scene) for c in train])
    _write_table(setup / "fold1_evaluate.csv", ("filename", "scene_label"),
                 [(c.filename, c.scene) for c in evaluate])
    _write_table(setup / "fold1_test.csv", ("filename",), [(c.filename,) for c in evaluate])
    arguments = {"clips_per_class": int(clips_per_class), "duration": float(duration),
                 "sr": int(sr), "devices": devices, "unseen_devices": unseen_devices,
                 "seed": int(seed)}
    (root / "README.md").write_text(_readme(clips, arguments), encoding="utf-8")
    return root
