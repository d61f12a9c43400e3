"""Where the book keeps what it makes once and reuses: data sets, features, trained models.

Every chapter calls :func:`cache_home`; set the environment variable ``AUDIOPRUNE_HOME``
to move the cache (the Makefile points it at ``.cache/audioprune`` in the checkout).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_home"]


def cache_home() -> Path:
    """The cache folder: ``$AUDIOPRUNE_HOME``, or ``~/.cache/audioprune`` when it is unset.

    Used by: every chapter (default data set, feature and model caches).

    Returns
    -------
    pathlib.Path
        An absolute path; the folder is created if missing.
    """
    home = Path(os.environ.get("AUDIOPRUNE_HOME", "~/.cache/audioprune")).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home
