"""Offline acoustic scenes: a small synthesiser and the writer of a TAU-layout data set.

The course cannot download the TAU Urban Acoustic Scenes 2020 Mobile data set, so it builds a
stand-in with the same folder layout, file names and split files. Every clip is a random mix of
sound components (noise, voices, announcements, music, engines, cars, footsteps, rail clicks,
birds, horns, wind), coloured by the place it was "recorded" at and by a reverberant room, then
passed through a recording device (microphone response, noise floor, clipping).

The modules, from the bottom up:

* :mod:`~audioprune_lite.synthetic.dsp`: seeded random streams, levels, filters, tones;
* :mod:`~audioprune_lite.synthetic.sounds`: one function per sound component
  (``coloured_noise``, ``babble``, ``engine``, ...); each takes a ``numpy.random.Generator``,
  a length in samples and a sample rate and returns a mono signal; ``reverberate`` adds a room;
* :mod:`~audioprune_lite.synthetic.scenes`: ``SCENE_RECIPES`` (which components each scene
  class mixes, how often and how loud) and ``synthesize_scene`` (one scene segment as heard by
  an ideal microphone);
* :mod:`~audioprune_lite.synthetic.devices`: ``device_response`` and ``apply_device``, what a
  recording device does to it;
* :mod:`~audioprune_lite.synthetic.writer`: ``make_synthetic_scenes``, the whole data set on
  disk in the TAU layout that :mod:`audioprune_lite.data` defines, and ``default_scenes``, the
  book's data set kept in the store.

Every random draw comes from a generator seeded by (seed, class, location, segment), so a clip
does not depend on the order in which clips are made, and the same arguments always give
byte-identical files.
"""

from .devices import DEVICE_RESPONSES, DeviceResponse, apply_device, device_response
from .scenes import SCENE_RECIPES, Part, Place, SceneRecipe, location_character, synthesize_scene
from .sounds import (
    announcement,
    babble,
    birds,
    chimes,
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
from .writer import (
    CITIES,
    DEFAULT_DEVICES,
    DEFAULT_UNSEEN_DEVICES,
    Clip,
    data_set_version,
    default_scenes,
    make_synthetic_scenes,
    plan_clips,
)

__all__ = [
    "CITIES",
    "DEFAULT_DEVICES",
    "DEFAULT_UNSEEN_DEVICES",
    "DEVICE_RESPONSES",
    "SCENE_RECIPES",
    "Clip",
    "DeviceResponse",
    "Part",
    "Place",
    "SceneRecipe",
    "announcement",
    "apply_device",
    "babble",
    "birds",
    "chimes",
    "coloured_noise",
    "data_set_version",
    "default_scenes",
    "device_response",
    "engine",
    "footsteps",
    "horns",
    "location_character",
    "make_synthetic_scenes",
    "music",
    "pass_by",
    "plan_clips",
    "rail_clicks",
    "reverberate",
    "synthesize_scene",
    "wind",
]
