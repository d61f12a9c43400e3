"""The sound models of the synthesiser, and the room that reverberates them.

Each sound model (``coloured_noise``, ``babble``, ``engine``, ...) takes a
``numpy.random.Generator``, a length ``n`` in samples and a sample rate ``sr`` in Hz, and
returns a mono float64 signal of shape ``(n,)``; the scene recipes of
:mod:`audioprune_lite.synthetic.scenes` mix them. ``reverberate`` puts a mix in a room.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, signal

from .dsp import (
    band_filter,
    decaying_noise,
    draw_count,
    from_db,
    harmonic_tone,
    place_events,
    smooth_track,
    unit_rms,
)

SPEED_OF_SOUND = 343.0  # m/s
MAX_REVERB_S = 1.0  # longest impulse response (s); the pre-roll before a clip fills its tail


def coloured_noise(rng: np.random.Generator, n: int, sr: int, exponent: float = 1.0) -> np.ndarray:
    """Background noise whose power falls as ``1 / f**exponent``.

    ``exponent`` 0 gives white noise, 1 pink noise (the hum of a city or a hall), 2 brown noise
    (distant traffic, the rumble inside a vehicle); values in between tilt the spectrum.
    Frequencies below 20 Hz are not boosted further.

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
    return unit_rms(fft.irfft(spectrum, n_fft)[:n])


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
    for _ in range(draw_count(rng, voices)):
        pitch = rng.uniform(90.0, 250.0) * (0.9 + 0.2 * smooth_track(rng, n, sr, 3.0))
        pulses = np.flatnonzero(np.diff(np.floor(np.cumsum(pitch) / sr)))  # one per pitch period
        starts, lengths, loudness = _syllables(rng, n, sr)
        syllable = np.searchsorted(starts, pulses, side="right") - 1
        rise_and_fall = np.sin(np.pi * (pulses - starts[syllable]) / lengths[syllable]) ** 2
        vowels = rng.uniform(0.0, 1.0, (len(starts), n_bands)) ** 2 * tilt
        talker = rng.uniform(0.3, 1.0)  # near and far talkers
        sources[:, pulses] += talker * vowels[syllable].T * (loudness[syllable] * rise_and_fall)
        hissing = (rng.random(len(starts)) < 0.4) & (loudness > 0)
        consonants += place_events(starts[hissing] / sr, talker * loudness[hissing], n, sr)
    voiced = sum(band_filter(row, sr, low=centre / 1.3, high=centre * 1.3, order=1)
                 for centre, row in zip(FORMANT_BANDS_HZ, sources))
    voiced = band_filter(voiced, sr, high=800.0, order=1)  # the glottal pulse is soft, not a click
    hiss = band_filter(decaying_noise(rng, sr, 0.015), sr, low=min(3500.0, 0.4 * sr), high=9000.0)
    hisses = signal.oaconvolve(consonants, hiss / np.sqrt(np.sum(hiss**2)))[:n]
    return unit_rms(voiced + CONSONANT_LEVEL * hisses)


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
    f0 = low + (high - low) * smooth_track(rng, n, sr, 0.7)
    k = np.arange(1, harmonics + 1)
    weights = rng.uniform(0.3, 1.0, harmonics) * k ** (-rolloff)
    flutter = 0.7 + 0.6 * smooth_track(rng, n, sr, 12.0)
    return unit_rms(harmonic_tone(f0, sr, weights, rng) * flutter)


def pass_by(
    rng: np.random.Generator, n: int, sr: int, cars: tuple[int, int] = (1, 3)
) -> np.ndarray:
    """Cars driving past: tyre noise and engine harmonics that swell, then fade.

    Each car passes at 8-20 m/s, 3-20 m away, at a random time (possibly just before or after
    the clip). Its amplitude follows ``3 m / distance``, its engine pitch the Doppler shift
    (higher while approaching, lower while leaving), and its tyre noise gets brighter when it is
    close.

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
    for _ in range(draw_count(rng, cars)):
        closest_s = rng.uniform(-0.3, 1.3) * n / sr
        speed = rng.uniform(8.0, 20.0)
        distance = rng.uniform(3.0, 20.0)
        along = speed * (t - closest_s)
        path = np.hypot(distance, along)
        doppler = SPEED_OF_SOUND / (SPEED_OF_SOUND + speed * along / path)
        f0 = rng.uniform(25.0, 60.0) * doppler
        engines += (3.0 / path) * unit_rms(harmonic_tone(f0, sr, 1.0 / np.arange(1, 9), rng))
        loudness += 3.0 / path
        brightness += (3.0 / path) * (distance / path)  # (distance / path) is 1 when closest
    # The tyre noise of all cars shares one noise signal, each car adding its own envelope.
    tyres = coloured_noise(rng, n, sr, exponent=rng.uniform(0.8, 1.5))
    hiss = unit_rms(band_filter(tyres, sr, low=2000.0))
    return 0.5 * engines + loudness * tyres + brightness * hiss


def footsteps(
    rng: np.random.Generator, n: int, sr: int, walkers: tuple[int, int] = (1, 4)
) -> np.ndarray:
    """People walking by: short decaying clicks at 1.6-2.3 steps per second per walker.

    The floor (decay time and brightness of a step) is drawn once per call, the loudness per
    walker (near and far) and per step.

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
    for _ in range(draw_count(rng, walkers)):
        rate = rng.uniform(1.6, 2.3)
        steps = np.arange(int(n / sr * rate) + 2) / rate + rng.uniform(-1.0 / rate, 0.0)
        onsets.append(steps + rng.normal(0.0, 0.02, len(steps)))
        amplitudes.append(rng.uniform(0.2, 1.0) * rng.uniform(0.6, 1.0, len(steps)))
    step = band_filter(decaying_noise(rng, sr, rng.uniform(0.004, 0.015)), sr,
                   low=150.0, high=rng.uniform(2000.0, 6000.0))
    impulses = place_events(np.concatenate(onsets), np.concatenate(amplitudes), n, sr)
    return signal.oaconvolve(impulses, step / np.abs(step).max())[:n]


def rail_clicks(
    rng: np.random.Generator, n: int, sr: int, speed_mps: tuple[float, float] = (6.0, 20.0)
) -> np.ndarray:
    """Wheels crossing rail joints: metallic clicks in pairs (the two axles of a bogie).

    At speed ``v`` a joint comes every ``25 m / v`` seconds; each time, the front bogie's two
    axles click ``2.5 m / v`` apart, and the rear bogie's two (quieter) ``15 m / v`` later.

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
    knock = decaying_noise(rng, sr, 0.002)  # the impact that starts the ringing
    click[: len(knock)] += 2.0 * knock
    impulses = place_events(onsets, amplitudes, n, sr)
    return signal.oaconvolve(impulses, click / np.abs(click).max())[:n]


def birds(
    rng: np.random.Generator, n: int, sr: int, singers: tuple[int, int] = (1, 3)
) -> np.ndarray:
    """Bird song: phrases of fast frequency sweeps (chirps) between 1.2 and 9 kHz.

    Each bird has its own chirp (start frequency, sweep, length 30-120 ms) and repeats it 2-6
    times per phrase, 0.5-2 phrases per second.

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
    for _ in range(draw_count(rng, singers)):
        start_hz = min(rng.uniform(2000.0, 5000.0), 0.3 * sr)
        end_hz = min(start_hz * rng.uniform(0.6, 1.8), 0.4 * sr)
        chirp_len = int(rng.uniform(0.03, 0.12) * sr)
        gap_s = chirp_len / sr + rng.uniform(0.03, 0.12)
        loudness = rng.uniform(0.2, 1.0)
        phrases = np.cumsum(rng.exponential(1.0 / rng.uniform(0.5, 2.0), int(4 * duration) + 4))
        for phrase_s in phrases[phrases < duration] - rng.uniform(0.0, 1.0):
            for i in range(draw_count(rng, (2, 6))):
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
    for i, ratio in enumerate(rng.choice(CHIME_RATIOS, draw_count(rng, (2, 4)))):
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
    voice = band_filter(babble(rng, n, sr, voices=(1, 1)), sr, low=300.0, high=3400.0, order=4)
    speaking = np.arange(n) / sr >= voice_from_s
    return chimes(rng, n, sr, start_s) + unit_rms(voice) * speaking


MUSIC_CHORDS = ((0, 4, 7), (5, 9, 12), (7, 11, 14), (9, 12, 16))
"""Chords of the background music, in semitones above its key note (I, IV, V, vi of a major key)."""


def music(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Background music from loudspeakers: a chord progression of soft organ-like tones.

    Three voices play random chords of ``MUSIC_CHORDS`` (a new chord every 0.4-1 s) in a random
    key between 130 and 260 Hz; each chord swells, then fades; the loudspeakers pass
    150-6000 Hz.

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
        tones = tones + harmonic_tone(f0, sr, weights, rng)
    return unit_rms(band_filter(tones * swell, sr, low=150.0, high=6000.0))


def horns(
    rng: np.random.Generator, n: int, sr: int, toots: tuple[int, int] = (1, 2)
) -> np.ndarray:
    """Car horns: 0.15-0.8 s toots of two buzzy tones a major third apart (330-480 Hz).

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
    for _ in range(draw_count(rng, toots)):
        length = int(rng.uniform(0.15, 0.8) * sr)
        start = int(rng.uniform(-0.5 * length, n))
        first, stop = max(start, 0), min(start + length, n)
        if stop <= first:
            continue
        t = np.arange(first - start, stop - start) / sr
        ramp = np.minimum(1.0, np.minimum(t, length / sr - t) / 0.01)  # 10 ms attack and release
        pitch = rng.uniform(330.0, 480.0)
        pair = sum(harmonic_tone(np.full(len(t), f0), sr, weights, rng)
                   for f0 in (pitch, 1.26 * pitch))
        out[first:stop] += ramp * pair / 1.3
    return out


def wind(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Wind: gusty low-frequency rumble plus the rustle of leaves in the stronger gusts.

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
    gusts = 0.2 + 0.8 * smooth_track(rng, n, sr, rng.uniform(0.5, 2.0))
    rumble = band_filter(coloured_noise(rng, n, sr, 1.0), sr, high=rng.uniform(150.0, 600.0))
    rustle = band_filter(rng.standard_normal(n), sr, low=2000.0)
    leaves = rng.uniform(0.0, 0.5)
    return unit_rms(unit_rms(rumble) * gusts + leaves * unit_rms(rustle) * gusts**2)


def reverberate(
    rng: np.random.Generator, x: np.ndarray, sr: int, rt60_s: float, direct_db: float
) -> np.ndarray:
    """Room reverberation: ``x`` plus its convolution with a decaying-noise impulse response.

    The impulse response is white noise under an exponential envelope that falls by 60 dB in
    ``rt60_s`` seconds (cut at ``MAX_REVERB_S``), gently low-passed because air and walls
    absorb high frequencies. Halls ring for seconds, vehicles and open air for a fraction of a
    second. The first ``min(rt60_s, MAX_REVERB_S)`` seconds of ``x`` should be a pre-roll that
    is dropped afterwards, so that the clip starts with a reverberant tail already ringing.

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
    response = unit_rms(band_filter(response, sr, high=6000.0, order=1)) / np.sqrt(len(t))
    wet = signal.oaconvolve(x, response)[: len(x)]
    return from_db(direct_db) * x + wet
