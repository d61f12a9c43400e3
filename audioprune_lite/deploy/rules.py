"""How big a network is by the rules of the DCASE low-complexity acoustic scene tasks.

The challenge's Task 1 has limited model size since 2020, and the way it counts changed:

- **2021** (Task 1A): the size is the number of **non-zero** parameters times the bytes of
  their type, at most 128 KB (131,072 bytes); zeros left by pruning are free. MACs were
  reported but not limited.
- **2022**: **every** parameter counts, zeros included, stored as int8: at most 128 K
  parameters (128,000, as the challenge's counting script NeSsi sets it), so 128,000 bytes;
  and at most 30 million MACs for one inference on a 1-s clip.
- **2024**: the memory of the parameters **at the type they are stored in** (every
  parameter), at most 128 kB (128,000 bytes: 128,000 int8 parameters, or 64,000 at
  float16), and at most 30 million MACs per 1-s clip. In effect the 2022 limit, worded
  as memory; the 2023 edition set it too, but its page is not quoted here.

Parameters are counted as the challenge counted its Keras baselines (Keras'
``count_params``): weights, biases and batch normalisation's scale, shift, running mean
and running variance. Not counted: buffers that are not layer weights, such as
``num_batches_tracked`` or :class:`~audioprune_lite.models.DCASE21Baseline`'s stored input
statistics. The 2024 baseline was counted in PyTorch with NeSsi (torchinfo), which leaves
batch normalisation's running statistics out; the count here is larger by two numbers per
batch-normalised channel (128 for the DCASE 2021 baseline), so a model within these
limits is within NeSsi's too.

MACs are counted as :func:`audioprune_lite.metrics.count_macs` counts them (convolutions
and dense layers, bias additions excluded), on the input shape given: for the 2022 and
2024 rules, that of one 1-s clip (e.g. ``(1, 1, 40, 51)`` for the book's log-mel
features).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..metrics import _BATCH_NORMS, count_macs  # the batch normalisations Keras counts four vectors of

__all__ = ["DCASE_RULES", "DTYPE_BYTES", "ChallengeRules", "complexity"]

DTYPE_BYTES = {"float32": 4, "float16": 2, "int8": 1}
"""Bytes per parameter of each type a model can be stored in."""

@dataclass(frozen=True)
class ChallengeRules:
    """One year's complexity rules of the DCASE acoustic scene classification task.

    Attributes
    ----------
    name : str
        The key in :data:`DCASE_RULES`, e.g. ``"dcase2021"``.
    counts_zeros : bool
        Whether zero-valued parameters count (from 2022) or not (2021).
    limit_bytes : int
        The largest allowed size of the parameters, in bytes.
    limit_macs : int or None
        The largest allowed multiply-accumulates per inference on a 1-s clip (None: no limit).
    rule : str
        The rule in words.
    sources : tuple of str
        Where it is defined.
    """

    name: str
    counts_zeros: bool
    limit_bytes: int
    limit_macs: int | None
    rule: str
    sources: tuple


DCASE_RULES = {
    "dcase2021": ChallengeRules(
        "dcase2021", counts_zeros=False, limit_bytes=128 * 1024, limit_macs=None,
        rule="model size = non-zero parameters x bytes of their type, at most 128 KB "
             "(131,072 bytes); MACs are not limited",
        sources=("https://dcase.community/challenge2021/task-acoustic-scene-classification",
                 "Martin-Morato et al., Low-complexity acoustic scene classification for "
                 "multi-device audio: analysis of DCASE 2021 challenge systems, DCASE 2021 "
                 "Workshop (the baseline: 46,246 parameters, 90.3 KB at float16)")),
    "dcase2022": ChallengeRules(
        "dcase2022", counts_zeros=True, limit_bytes=128_000, limit_macs=30_000_000,
        rule="at most 128 K parameters, zero-valued ones included, represented as int8 "
             "(128,000 bytes), and at most 30 M MACs per inference on a 1-s clip",
        sources=("https://dcase.community/challenge2022/task-low-complexity-acoustic-scene-classification",
                 "Martin-Morato et al., Low-complexity acoustic scene classification in "
                 "DCASE 2022 Challenge, arXiv:2206.03835",
                 "NeSsi, the challenge's counting script: "
                 "https://github.com/AlbertoAncilotto/NeSsi (MAX_PARAMS = 128e3, MAX_MACC = 30e6)")),
    "dcase2024": ChallengeRules(
        "dcase2024", counts_zeros=True, limit_bytes=128_000, limit_macs=30_000_000,
        rule="memory of the parameters at the type they are stored in (all of them) at "
             "most 128 kB (128,000 bytes), and at most 30 M MACs per inference on a 1-s clip",
        sources=("https://dcase.community/challenge2024/task-data-efficient-low-complexity-acoustic-scene-classification",
                 "The 2024 baseline's README, https://github.com/CPJKU/dcase2024_task1_baseline "
                 "(61,148 parameters x 2 bytes at float16 = 122,296 B <= 128 kB; at 8 bits "
                 "128,000 parameters)")),
}
"""The rules :func:`complexity` knows, by name."""


def _parameter_tensors(model: nn.Module):
    """The tensors the challenge counts: parameters (as used: masks applied) and running statistics."""
    for module in model.modules():
        for name, _ in module.named_parameters(recurse=False):
            # torch.nn.utils.prune keeps the original as ``weight_orig`` and computes
            # ``weight`` (with the mask applied) as a plain attribute
            yield getattr(module, name.removesuffix("_orig"))
        if isinstance(module, _BATCH_NORMS) and module.running_mean is not None:
            yield module.running_mean
            yield module.running_var


def complexity(model: nn.Module, input_shape, rules: str = "dcase2021",
               dtype: str = "float16") -> dict:
    """Count a model by one year's DCASE rules: parameters, bytes, MACs and whether it fits.

    Used by: Chapter 9 and the command line's ``export``.

    Parameters
    ----------
    model : torch.nn.Module
        Pruned, masked (``torch.nn.utils.prune``: masked weights count as zeros) or not.
    input_shape : tuple of int
        The input of one inference, batch dimension included; for the 2022 and 2024 rules
        one 1-s clip, e.g. ``(1, 1, 40, 51)``.
    rules : {"dcase2021", "dcase2022", "dcase2024"}
        A key of :data:`DCASE_RULES`.
    dtype : {"float32", "float16", "int8"}
        The type the parameters are stored in.

    Returns
    -------
    dict
        ``rules``, ``dtype``, ``params`` (every counted parameter), ``nonzero_params``,
        ``bytes`` (the size the rules count: non-zero or all parameters, times the bytes of
        ``dtype``), ``limit_bytes``, ``macs`` (for ``input_shape``), ``limit_macs`` (None
        when the year had none) and ``within_limits`` (bool).

    Raises
    ------
    ValueError
        For rules or a type not listed above (the message lists the known ones).

    Examples
    --------
    >>> from audioprune_lite.models import DCASE21Baseline
    >>> counted = complexity(DCASE21Baseline(), (1, 1, 40, 51), "dcase2022", "float16")
    >>> counted["params"], counted["bytes"], counted["macs"], counted["within_limits"]
    (46246, 92492, 29203560, True)
    """
    if rules not in DCASE_RULES:
        raise ValueError(f"unknown rules {rules!r}: known rules are {', '.join(DCASE_RULES)}")
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {dtype!r}: known types are {', '.join(DTYPE_BYTES)}")
    rule = DCASE_RULES[rules]
    with torch.no_grad():
        tensors = list(_parameter_tensors(model))
        params = sum(t.numel() for t in tensors)
        nonzero = sum(int(torch.count_nonzero(t)) for t in tensors)
    counted = (params if rule.counts_zeros else nonzero) * DTYPE_BYTES[dtype]
    macs = count_macs(model, input_shape)
    fits = counted <= rule.limit_bytes and (rule.limit_macs is None or macs <= rule.limit_macs)
    return {"rules": rules, "dtype": dtype, "params": params, "nonzero_params": nonzero,
            "bytes": counted, "limit_bytes": rule.limit_bytes, "macs": macs,
            "limit_macs": rule.limit_macs, "within_limits": bool(fits)}
