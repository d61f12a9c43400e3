"""Checks of the coding exercises of Chapters 1 and 8: from a recording to the log-mel features.

- :func:`mel_spectrogram` -- Chapter 1's ``mel_power_of(y, config)``, against
  :func:`audioprune_lite.features.mel_power`;
- :func:`decibels` -- Chapter 1's ``decibels_of(mel, config)``, against
  :func:`audioprune_lite.features.log_mel`;
- :func:`mono_mixdown` -- Chapter 8's ``to_mono_at(y, sr, target_sr)``, against
  :func:`audioprune_lite.data.load_audio`;
- :func:`fixed_length` -- Chapter 8's ``trim_or_pad(y, sr, seconds)``, against
  ``load_audio(..., duration=seconds)``.

The references of Chapter 8 are the loader itself: each case's signal is written to a
temporary WAV file of 32-bit float samples (so no sample changes on the way) and read
back with :func:`~audioprune_lite.data.load_audio`.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

from ..data import load_audio
from ..features import LogMelConfig, log_mel, mel_power
from .runner import Case, CheckResult, run_cases

__all__ = ["decibels", "fixed_length", "mel_spectrogram", "mono_mixdown"]

BASELINE = LogMelConfig()
"""The DCASE 2021 Task 1A baseline's settings (44.1 kHz, Hamming, 40 bands, magnitude)."""

OTHER = LogMelConfig(sr=16000, n_fft=512, win_length=400, hop_length=160, window="hann",
                     n_mels=64, power=2.0, floor_db=-80.0)
"""A second configuration: its sample rate, FFT and window lengths, window, hop, number of
bands, power and floor all differ from the baseline's, so that a value typed in instead of
read from ``config`` shows."""


def _tone(seconds: float, sr: int, frequency: float = 1000.0, amplitude: float = 0.5) -> np.ndarray:
    """A sine tone, float32, shape ``(round(seconds * sr),)``."""
    t = np.arange(round(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def _noise(seconds: float, sr: int, seed: int, scale: float = 0.1) -> np.ndarray:
    """Gaussian white noise, float32, shape ``(round(seconds * sr),)``, from a fixed seed."""
    samples = np.random.default_rng(seed).standard_normal(round(seconds * sr))
    return (scale * samples).astype(np.float32)


def _clips(sr: int) -> dict[str, np.ndarray]:
    """The clips the two checks of Chapter 1 share, all at ``sr`` Hz."""
    return {"a 1 kHz tone": _tone(0.25, sr), "white noise": _noise(0.25, sr, seed=0),
            "a very quiet tone": _tone(0.25, sr, amplitude=1e-4),
            "a silent clip": np.zeros(round(0.25 * sr), np.float32),
            "a clip shorter than one FFT": _tone(0.25, sr)[: BASELINE.n_fft // 2]}


@contextlib.contextmanager
def _short_clips_allowed():
    """Silence librosa's warning about a clip shorter than one FFT: such a clip is a case on
    purpose, and the warning would only clutter the check's output."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large", category=UserWarning)
        yield


def mel_spectrogram(function) -> CheckResult:
    """Check Chapter 1's ``mel_power_of`` against :func:`~audioprune_lite.features.mel_power`.

    Cases: a 1 kHz tone and white noise at the baseline's settings (the ordinary clips); a
    silent clip (nothing may add energy or divide by it); a clip of half an FFT, shorter
    than one frame (only centred frames give it any); and noise at a second configuration
    (:data:`OTHER`: 16 kHz, Hann window, 64 bands, power 2), so that nothing may be typed
    in instead of read from ``config``.

    Used by: Chapter 1.

    Parameters
    ----------
    function : callable
        The student's ``mel_power_of(y, config)``: ``y`` a float32 signal of shape
        ``(samples,)`` at ``config.sr`` Hz, ``config`` a
        :class:`~audioprune_lite.features.LogMelConfig`; returns the mel spectrogram, shape
        ``(config.n_mels, 1 + samples // config.hop_length)``.

    Returns
    -------
    CheckResult
    """
    clips = _clips(BASELINE.sr)
    hints = {
        "a 1 kHz tone": "Rows are mel bands and columns frames: does your shape match? If "
                        "the values differ, does `config.power` ask for magnitudes or powers?",
        "white noise": "Is every setting of the STFT (window, its length, the hop, the FFT "
                       "length) taken from `config`?",
        "a silent clip": "Silence has no energy in any band: does anything in your function "
                         "add some, or divide by it?",
        "a clip shorter than one FFT": "How does a clip shorter than one FFT get any frame, "
                                       "and where does the first frame's centre sit?",
    }
    other = _noise(0.25, OTHER.sr, seed=1)
    with _short_clips_allowed():
        cases = [Case(name, (clips[name], BASELINE), mel_power(clips[name], BASELINE), hint=hint)
                 for name, hint in hints.items()]
        cases.append(Case("noise at 16 kHz, Hann window, 64 bands, power 2", (other, OTHER),
                          mel_power(other, OTHER),
                          hint="Which of the sample rate, window, FFT length, hop, number of "
                               "bands and power did you type in instead of reading it from "
                               "`config`?"))
        return run_cases("the mel spectrogram", function, cases)


def decibels(function) -> CheckResult:
    """Check Chapter 1's ``decibels_of`` against :func:`~audioprune_lite.features.log_mel`.

    Each case is the mel spectrogram (:func:`~audioprune_lite.features.mel_power`) of a
    clip; the expected answer is ``log_mel`` of the same clip. Cases: a 1 kHz tone (20, not
    10, decibels per decade for magnitudes); a silent clip (all zeros: without the floor the
    logarithm is minus infinity); a tone at 1e-4 of full scale, whose quieter bands fall
    below the floor while its loudest do not (a floor set too high, or a range cut relative
    to the maximum, shows); and a tone at 0.01 of full scale as a power spectrogram at
    another configuration whose floor is -80 dB, with bands above it, below it and between
    it and -100 dB (10 decibels per decade, and the floor read from ``config``).

    Used by: Chapter 1.

    Parameters
    ----------
    function : callable
        The student's ``decibels_of(mel, config)``: ``mel`` a non-negative float32 array of
        shape ``(n_mels, frames)``, ``config`` a
        :class:`~audioprune_lite.features.LogMelConfig`; returns the log-mel spectrogram
        in dB, same shape.

    Returns
    -------
    CheckResult
    """
    clips = _clips(BASELINE.sr)
    hints = {
        "a 1 kHz tone": "Decibels measure power: how many decibels is a factor of 10 in "
                        "magnitude?",
        "a silent clip": "What is the logarithm of zero, and what keeps the answer finite?",
        "a very quiet tone": "What is the lowest value the log-mel may take, and does your "
                             "answer limit anything else?",
    }
    cases = [Case(name, (mel_power(clips[name], BASELINE), BASELINE),
                  log_mel(clips[name], BASELINE), hint=hint) for name, hint in hints.items()]
    other = _tone(0.25, OTHER.sr, amplitude=0.01)
    cases.append(Case("a power spectrogram with a floor of -80 dB",
                      (mel_power(other, OTHER), OTHER), log_mel(other, OTHER),
                      hint="Do the decibels per decade and the floor both follow `config`?"))
    return run_cases("the log-mel in decibels", function, cases)


def _through_the_loader(samples: np.ndarray, file_sr: int, sr: int,
                        duration: float | None = None) -> np.ndarray:
    """What :func:`~audioprune_lite.data.load_audio` returns for a file holding ``samples``.

    Parameters
    ----------
    samples : numpy.ndarray
        float32, shape ``(frames,)`` or ``(frames, channels)``.
    file_sr : int
        The file's sample rate in Hz.
    sr, duration :
        Passed to ``load_audio`` (Hz, seconds).

    Returns
    -------
    numpy.ndarray
        float32, shape ``(samples,)``.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "case.wav"
        sf.write(path, samples, file_sr, subtype="FLOAT")  # 32-bit float: no sample changes
        return load_audio(path, sr, duration)


def mono_mixdown(function) -> CheckResult:
    """Check Chapter 8's ``to_mono_at`` against :func:`~audioprune_lite.data.load_audio`.

    Cases (0.1 s each): a mono file at the target rate (one channel comes back unchanged,
    as a 1-D array); a stereo file whose channels differ (both count, by their mean); a
    phone's stereo recording at 48 kHz (resampled down to 44.1 kHz); four channels at
    22.05 kHz (every channel averaged, and resampled up); stereo silence at 48 kHz (it
    stays silent, at the target rate's length).

    Used by: Chapter 8.

    Parameters
    ----------
    function : callable
        The student's ``to_mono_at(y, sr, target_sr)``: ``y`` float32 samples of shape
        ``(frames, channels)`` as ``soundfile.read(..., always_2d=True)`` returns them,
        ``sr`` and ``target_sr`` in Hz; returns float32 samples of shape ``(samples,)``
        at ``target_sr``.

    Returns
    -------
    CheckResult
    """
    target = BASELINE.sr
    cases = []
    for name, channels, sr, hint in [
        ("a mono file at the target rate", [_tone(0.1, target)], target,
         "A file with one channel is already mono: what shape should come back?"),
        ("a stereo file, left and right differing", [_tone(0.1, target), _noise(0.1, target, 2)],
         target, "Does every channel count in the mix, or only one?"),
        ("a phone's stereo recording at 48 kHz", [_tone(0.1, 48000), _noise(0.1, 48000, 3)],
         48000, "Is the result at `target_sr`? How many samples does 0.1 s hold there?"),
        ("four channels at 22.05 kHz",
         [_tone(0.1, 22050, frequency=300.0 * (k + 1)) for k in range(4)], 22050,
         "However many channels there are, are all of them mixed in, and is the result at "
         "`target_sr`?"),
        ("stereo silence at 48 kHz", [np.zeros(4800, np.float32)] * 2, 48000,
         "Silence stays silent: is it also at the target rate's length?"),
    ]:
        samples = np.stack(channels, axis=1)
        cases.append(Case(name, (samples, sr, target), _through_the_loader(samples, sr, target),
                          hint=hint))
    return run_cases("mixing down and resampling", function, cases)


def fixed_length(function) -> CheckResult:
    """Check Chapter 8's ``trim_or_pad`` against ``load_audio(..., duration=seconds)``.

    Cases at 16 kHz: a clip of exactly the length (unchanged); a longer clip (cut at its
    end); a clip one sample too long; a shorter clip (zeros added at its end); a length
    of 0.30004 s, which is 4800.64 samples (rounded to the nearest whole sample, not cut
    down); and an ESC-50-like clip at 44.1 kHz a little under 5 s, padded to 5 s.

    Used by: Chapter 8.

    Parameters
    ----------
    function : callable
        The student's ``trim_or_pad(y, sr, seconds)``: ``y`` a float32 signal of shape
        ``(samples,)`` at ``sr`` Hz, ``seconds`` the length wanted; returns shape
        ``(round(seconds * sr),)``.

    Returns
    -------
    CheckResult
    """
    sr = 16000
    cases = []
    for name, y, rate, seconds, hint in [
        ("a clip of exactly the length", _noise(0.5, sr, 4), sr, 0.5,
         "A clip that already has the length comes back as it is."),
        ("a longer clip", _noise(0.75, sr, 5), sr, 0.5,
         "Which end of the clip does the loader cut?"),
        ("a clip one sample too long", _noise(0.6, sr, 6)[: sr // 2 + 1], sr, 0.5,
         "How many samples do `seconds` hold at `sr`, exactly?"),
        ("a shorter clip", _noise(0.3, sr, 7), sr, 0.5,
         "Where do the zeros go, and how many are there?"),
        ("0.30004 s, not a whole number of samples", _noise(0.5, sr, 8), sr, 0.30004,
         "When `seconds * sr` is not a whole number, is it rounded or cut down?"),
        ("a 4.9-s clip at 44.1 kHz padded to 5 s", _noise(4.9, BASELINE.sr, 9), BASELINE.sr, 5.0,
         "Is the length computed from the `sr` you were given?"),
    ]:
        cases.append(Case(name, (y, rate, seconds), _through_the_loader(y, rate, rate, seconds),
                          hint=hint))
    return run_cases("trimming or padding to a length", function, cases)
