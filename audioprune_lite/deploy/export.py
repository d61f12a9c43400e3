"""From a PyTorch network to ONNX files: float32, float16 and int8.

ONNX is a file format for networks that many runtimes read (ONNX Runtime on servers,
phones and microcontroller toolchains). :func:`export_onnx` writes a network of
:mod:`audioprune_lite.models`, pruned or not, with PyTorch's exporter
(``torch.onnx.export(..., dynamo=True)``), the weights inside the one file and the batch
dimension left free. :func:`to_float16` halves the weights' bytes; :func:`quantise_int8`
stores weights and activations as 8-bit integers with ONNX Runtime's static quantisation
(the QDQ format, after ONNX Runtime's pre-processing step), calibrated on training clips.
Every file is written whole or not at all.

Needs the ``[deploy]`` extra (``onnx``, ``onnxscript``, ``onnxruntime``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import models
from ..extras import require
from ..pruning.masking import masked_state_dict
from ..store import atomic_write

__all__ = ["UnsupportedModelError", "export_onnx", "input_shape_of", "quantise_int8", "to_float16"]

INPUT_NAME, OUTPUT_NAME = "log_mel", "logits"


class UnsupportedModelError(ValueError):
    """A network whose layers its own ``config`` does not describe, which cannot be exported."""


def _describable(model: nn.Module) -> nn.Module:
    """A plain copy of ``model`` built from its class and ``config``, masks applied.

    The exported file records the model's class and ``config``; they must rebuild exactly
    these layers, as they do for the book's networks, pruned by
    :func:`~audioprune_lite.pruning.prune_model` or not. Masks of ``torch.nn.utils.prune``
    become the zeros they make.
    """
    architecture = getattr(models, type(model).__name__, None)
    if architecture is not type(model) or not isinstance(getattr(model, "config", None), dict):
        raise UnsupportedModelError(
            f"cannot export a {type(model).__name__}: only the networks of "
            "audioprune_lite.models (pruned with prune_model or not) can be exported")
    try:
        plain = architecture(**model.config)
        plain.load_state_dict(masked_state_dict(model))
    except Exception as error:  # a missing key or a wrong shape
        first = str(error).strip().splitlines()[0]
        raise UnsupportedModelError(
            f"cannot export this {type(model).__name__}: its config {model.config} does not "
            f"describe its layers ({first}); prune it with audioprune_lite.pruning.prune_model, "
            "which keeps the config up to date") from None
    return plain.eval()


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's notes about optional operator sets and its deprecation warnings."""
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)


def export_onnx(model: nn.Module, path, input_shape) -> Path:
    """Write ``model`` as one ONNX file, weights inside, with a free batch dimension.

    Used by: Chapter 9 and the command line's ``export``.

    Parameters
    ----------
    model : torch.nn.Module
        A network of :mod:`audioprune_lite.models`, pruned by
        :func:`~audioprune_lite.pruning.prune_model` or not; masks of
        ``torch.nn.utils.prune`` are exported as the zeros they make (on a copy).
    path : str or Path
        The ``.onnx`` file to write (atomically).
    input_shape : tuple of int
        One input, e.g. ``(1, 1, 40, 51)`` for a 1-s clip; the exported graph takes any
        batch size with the other dimensions fixed. The input is named ``log_mel`` and the
        output (logits, shape (batch, classes)) ``logits``.

    Returns
    -------
    pathlib.Path
        ``path``. Its metadata records the architecture and ``config``.

    Raises
    ------
    UnsupportedModelError
        For a network that is not one of :mod:`audioprune_lite.models`, or whose ``config``
        does not describe its layers; nothing is written.
    OSError
        The file cannot be written (the message names it); nothing is left behind.
    """
    onnx = require("onnx", "deploy")
    require("onnxscript", "deploy")
    plain = _describable(model)
    example = torch.zeros((2, *tuple(input_shape)[1:]))  # batch 2: a batch of 1 would be fixed
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            plain, (example,), dynamo=True, verbose=False, input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME], dynamic_shapes=({0: torch.export.Dim("batch")},))
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {"architecture": type(plain).__name__,
                                        "config": json.dumps(plain.config)})
    return _write_proto(proto, path)


def input_shape_of(path) -> tuple:
    """The input shape an ONNX file takes, with ``"batch"`` for a free batch dimension.

    Used by: :func:`quantise_int8` and :class:`~audioprune_lite.deploy.runtime.OnnxModel`.
    """
    onnx = require("onnx", "deploy")
    graph = onnx.load(str(path), load_external_data=False).graph
    dims = graph.input[0].type.tensor_type.shape.dim
    return tuple(d.dim_param or d.dim_value for d in dims)


def _write_proto(proto, path) -> Path:
    data = proto.SerializeToString()
    return atomic_write(path, lambda file: file.write(data))


def to_float16(source, path) -> Path:
    """A copy of an ONNX file with float16 weights and arithmetic (inputs and outputs stay float32).

    Used by: Chapter 9 and the command line's ``export``.

    Parameters
    ----------
    source : str or Path
        An ONNX file written by :func:`export_onnx`.
    path : str or Path
        The float16 file to write (atomically).

    Returns
    -------
    pathlib.Path
    """
    onnx = require("onnx", "deploy")
    float16 = require("onnxruntime.transformers.float16", "deploy")
    proto = float16.convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    return _write_proto(proto, path)


def quantise_int8(source, path, calibration, batch_size: int = 32) -> Path:
    """An int8 copy of an ONNX file by ONNX Runtime's static quantisation (QDQ format).

    ONNX Runtime's pre-processing (shape inference and graph optimisation) runs first;
    then weights become int8 per output channel and activations uint8, with ranges
    (min-max) measured by running the float model on ``calibration``: training clips,
    never evaluation ones. These are ONNX Runtime's recommended settings for x86 CPUs
    with VNNI instructions.

    Used by: Chapter 9 and the command line's ``export``.

    Parameters
    ----------
    source : str or Path
        A float32 ONNX file written by :func:`export_onnx`.
    path : str or Path
        The int8 file to write (atomically).
    calibration : array (N, 1, n_mels, frames)
        Inputs of the shape the model takes, N >= 1.
    batch_size : int
        Calibration batch size.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        ``calibration`` is empty or not of the model's input shape (the message gives it).
    """
    quantization = require("onnxruntime.quantization", "deploy")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    expected = input_shape_of(source)
    calibration = np.asarray(calibration, dtype=np.float32)
    if (calibration.ndim != len(expected) or len(calibration) == 0
            or calibration.shape[1:] != tuple(expected[1:])):
        raise ValueError(f"calibration inputs must have shape (N >= 1, "
                         f"{', '.join(map(str, expected[1:]))}) like the model's input; "
                         f"got {calibration.shape}")

    class Batches(quantization.CalibrationDataReader):
        def __init__(self):
            self.batches = iter(range(0, len(calibration), batch_size))

        def get_next(self):
            start = next(self.batches, None)
            return None if start is None else {INPUT_NAME: calibration[start:start + batch_size]}

    with tempfile.TemporaryDirectory(prefix="audioprune-int8-") as work:
        prepared, quantised = Path(work) / "prepared.onnx", Path(work) / "int8.onnx"
        quant_pre_process(str(source), str(prepared))
        quantization.quantize_static(
            str(prepared), str(quantised), Batches(), quant_format=quantization.QuantFormat.QDQ,
            per_channel=True, activation_type=quantization.QuantType.QUInt8,
            weight_type=quantization.QuantType.QInt8)
        data = quantised.read_bytes()
    return atomic_write(path, lambda file: file.write(data))
