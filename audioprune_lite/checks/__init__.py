"""Checks for the book's coding exercises: run a student's function, say what is wrong.

Each coding exercise asks for one step a chapter is about, in a starter cell with its
signature and docstring; the cell after it calls the exercise's check, e.g.
``checks.prototype(prototype_of)``. A check runs the function on a few cases, edge cases
included, and compares each answer with the package's own version of the step
(:mod:`~audioprune_lite.checks.runner` says how). It returns a
:class:`~audioprune_lite.checks.runner.CheckResult` that a notebook shows as one line:
passed, or the case that failed with what was expected, what came back and a hint, or
"not done yet" for a starter that is still unfinished.

The checks, by chapter:

- :mod:`~audioprune_lite.checks.features` -- Chapters 1 and 8 (audio and features);
- :mod:`~audioprune_lite.checks.training` -- Chapters 2 and 5 (training and data subsets);
- :mod:`~audioprune_lite.checks.pruning` -- Chapters 3 and 4 (prototypes, the greedy pass,
  surgery, counting);
- :mod:`~audioprune_lite.checks.study` -- Chapters 6 and 7 (energy, CO2, intervals);
- :mod:`~audioprune_lite.checks.deploy` -- Chapter 9 (deploy: the challenge's count of
  bytes, the interval of a median latency).
"""

from __future__ import annotations

from .deploy import *  # noqa: F401,F403  (each module lists its checks in __all__)
from .features import *  # noqa: F401,F403
from .pruning import *  # noqa: F401,F403
from .runner import Case, CheckResult, run_cases
from .study import *  # noqa: F401,F403
from .training import *  # noqa: F401,F403
