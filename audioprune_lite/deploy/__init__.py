"""From a pruned network to a deployable file: ONNX, float16, int8, and the challenge's counts.

- :mod:`~audioprune_lite.deploy.rules` -- :func:`complexity`: parameters, bytes and MACs
  by the DCASE rules of 2021, 2022 and 2024 (:data:`DCASE_RULES`, each with its source);
- :mod:`~audioprune_lite.deploy.export` -- :func:`export_onnx`, :func:`to_float16` and
  :func:`quantise_int8`: the files;
- :mod:`~audioprune_lite.deploy.runtime` -- :class:`OnnxModel` (ONNX Runtime on the CPU)
  and :func:`latency_table`: how fast each variant runs.

Counting needs only the package; the files need the ``[deploy]`` extra (``onnx``,
``onnxscript``, ``onnxruntime``), imported when first used.

Used by: Chapter 9 and the command line's ``export``.
"""

from __future__ import annotations

from .export import UnsupportedModelError, export_onnx, input_shape_of, quantise_int8, to_float16
from .rules import DCASE_RULES, DTYPE_BYTES, ChallengeRules, complexity
from .runtime import OnnxModel, latency_table, median_interval, runner

__all__ = ["DCASE_RULES", "DTYPE_BYTES", "ChallengeRules", "OnnxModel", "UnsupportedModelError",
           "complexity", "export_onnx", "input_shape_of", "latency_table", "median_interval",
           "quantise_int8", "runner", "to_float16"]
