"""Recording devices: what a microphone and recorder do to the sound of a scene.

The default devices of TAU 2020 Mobile (``a``, ``b``, ``c``, ``s4``-``s6``) have hand-designed
responses; any other device name gets a response drawn from its name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dsp import KEY_DEVICE, band_filter, draw_count, equalise, from_db, name_key, seeded_rng


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
    """
    if name in DEVICE_RESPONSES:
        return DEVICE_RESPONSES[name]
    if reference:
        return DEVICE_RESPONSES["a"]
    rng = seeded_rng(seed, KEY_DEVICE, name_key(name))
    return DeviceResponse(
        highpass_hz=float(np.exp(rng.uniform(np.log(40.0), np.log(400.0)))),
        lowpass_hz=float(np.exp(rng.uniform(np.log(4000.0), np.log(16000.0)))),
        order=int(rng.integers(2, 9)),
        peaks=tuple(
            (float(np.exp(rng.uniform(np.log(200.0), np.log(8000.0)))),
             float(rng.uniform(-8.0, 8.0)), float(rng.uniform(0.7, 3.0)))
            for _ in range(draw_count(rng, (1, 2)))
        ),
        gain_db=float(rng.uniform(-4.0, 8.0)),
        noise_db=float(rng.uniform(-75.0, -58.0)),
        clip_level=float(rng.uniform(0.3, 1.0)) if rng.random() < 0.5 else None,
    )


def apply_device(
    x: np.ndarray, sr: int, response: DeviceResponse, rng: np.random.Generator
) -> np.ndarray:
    """Record ``x`` with a device: its frequency response, gain, hiss and clipping, in that order.

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
    y = band_filter(x, sr, low=response.highpass_hz, high=response.lowpass_hz, order=response.order)
    y = equalise(y, sr, response.peaks) * from_db(response.gain_db)
    y = y + from_db(response.noise_db) * rng.standard_normal(len(y))
    if response.clip_level is not None:
        y = response.clip_level * np.tanh(y / response.clip_level)
    return y
