"""Scene recipes: which sounds each scene class mixes, and the character of each location.

``SCENE_RECIPES`` says, for every class of :data:`audioprune_lite.data.SCENE_CLASSES`, which
sound models of :mod:`audioprune_lite.synthetic.sounds` it mixes, how often and how loud, and
in what kind of room. ``location_character`` draws what one recording location keeps for all
its segments, and ``synthesize_scene`` makes one segment as an ideal microphone hears it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..data import SCENE_CLASSES
from .dsp import KEY_LOCATION, KEY_SEGMENT, equalise, from_db, seeded_rng, unit_rms
from .sounds import (
    MAX_REVERB_S,
    announcement,
    babble,
    birds,
    coloured_noise,
    engine,
    footsteps,
    horns,
    music,
    pass_by,
    rail_clicks,
    reverberate,
    wind,
)


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
    """
    recipe = SCENE_RECIPES[scene]
    rng = seeded_rng(seed, KEY_LOCATION, SCENE_CLASSES.index(scene), location)
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
    rng = seeded_rng(seed, KEY_SEGMENT, SCENE_CLASSES.index(scene), location, segment)
    n = round(duration * sr)
    rt60_s = place.rt60_s * rng.uniform(0.9, 1.1)
    pre_roll = int(min(rt60_s, MAX_REVERB_S) * sr)  # long enough to fill the reverberant tail
    total = n + pre_roll

    exponent = place.noise_exponent + rng.uniform(-0.1, 0.1)
    mix = from_db(BACKGROUND_DB) * coloured_noise(rng, total, sr, exponent)
    for name, part in recipe.parts.items():
        if rng.random() < part.probability:
            level_db = rng.uniform(*part.level_db) + place.part_offsets_db[name]
            mix += from_db(level_db) * part.sound(rng, total, sr, **part.options)
    mix = equalise(mix, sr, place.colour)
    mix = reverberate(rng, mix, sr, rt60_s, place.direct_db + rng.uniform(-1.5, 1.5))[pre_roll:]

    mix = unit_rms(mix) * from_db(place.loudness_db + rng.uniform(-2, 2))
    peak = np.abs(mix).max()
    return mix * 0.5 / peak if peak > 0.5 else mix
