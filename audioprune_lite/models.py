"""The networks of the book: the DCASE 2021 Task 1A baseline and a VGGish-like network.

Both are flat ``nn.Sequential`` chains with named layers (``conv1``, ``bn1``, ...), so a
layer's name in ``model.named_modules()`` is the name the book and the pruning plans use
(the papers' C1, C2, C3 are ``conv1``, ``conv2``, ``conv3``).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

__all__ = ["DCASE21Baseline", "InputShapeError", "LayerChain", "VGGishLike"]


class InputShapeError(ValueError):
    """An input tensor whose shape the network cannot take; the message states the shape it expects."""


class LayerChain(nn.Sequential):
    """An ``nn.Sequential`` of named layers whose slices are plain ``nn.Sequential`` chains.

    ``model[:4]`` gives the first four layers as a network of their own (handy for looking
    at intermediate feature maps); the input checks of the subclasses are not part of it.
    """

    def __getitem__(self, index):
        if isinstance(index, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)


class DCASE21Baseline(LayerChain):
    """The DCASE 2021 Task 1A baseline CNN for acoustic scene classification.

    Three 7x7 convolutions ("same" padding) with batch normalisation and ReLU, 5x5 max
    pooling, dropout 0.3, a dense layer of 100 units and a dense output layer, as in the
    challenge's Keras baseline. The baseline's final 4x100 max pooling is replaced by
    ``AdaptiveMaxPool2d((2, 1))``: on a 40 x 500 input both pool the same 8 x 100 map to
    2 x 1, and other clip lengths work too. With the default channels the network has
    46,118 trainable parameters (Keras counts 46,246, because it includes the 128 running
    means and variances of batch normalisation). Batch normalisation uses Keras'
    settings (epsilon 1e-3, running averages with momentum 0.99).

    The input is standardised inside the network, band by band, with statistics stored as
    buffers (set them with :meth:`set_input_statistics`), so a saved model carries its own
    normalisation.

    Used by: Chapter 2 (training), Chapter 4 (pruning), Chapter 6 (energy) and Chapter 8.

    Parameters
    ----------
    n_classes : int
        Number of output classes (10 scenes).
    n_mels : int
        Mel bands of the input (40).
    channels : tuple of 3 int
        Filters of conv1, conv2, conv3; a pruned architecture can be built from scratch
        by passing its smaller counts.

    Examples
    --------
    >>> model = DCASE21Baseline()
    >>> model(torch.zeros(2, 1, 40, 500)).shape
    torch.Size([2, 10])
    """

    def __init__(self, n_classes: int = 10, n_mels: int = 40, channels=(16, 16, 32)):
        channels = tuple(int(c) for c in channels)
        if len(channels) != 3 or min(channels) < 1:
            raise ValueError(f"channels must be three positive counts, got {channels}")
        if n_mels < 5:
            raise ValueError(f"n_mels must be at least 5 (one 5x5 pooling), got {n_mels}")
        c1, c2, c3 = channels

        def batch_norm(c):
            return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

        super().__init__(OrderedDict([
            ("conv1", nn.Conv2d(1, c1, 7, padding=3)), ("bn1", batch_norm(c1)), ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(c1, c2, 7, padding=3)), ("bn2", batch_norm(c2)), ("relu2", nn.ReLU()),
            ("pool1", nn.MaxPool2d(5)), ("dropout1", nn.Dropout(0.3)),
            ("conv3", nn.Conv2d(c2, c3, 7, padding=3)), ("bn3", batch_norm(c3)), ("relu3", nn.ReLU()),
            ("pool2", nn.AdaptiveMaxPool2d((2, 1))), ("dropout2", nn.Dropout(0.3)),
            ("flatten", nn.Flatten()),
            ("dense", nn.Linear(2 * c3, 100)), ("relu4", nn.ReLU()), ("dropout3", nn.Dropout(0.3)),
            ("output", nn.Linear(100, n_classes)),
        ]))
        self.config = {"n_classes": n_classes, "n_mels": n_mels, "channels": channels}
        self.register_buffer("input_mean", torch.zeros(1, 1, n_mels, 1))
        self.register_buffer("input_std", torch.ones(1, 1, n_mels, 1))

    def set_input_statistics(self, X) -> None:
        """Store the per-band mean and standard deviation of training inputs ``X`` (N, 1, n_mels, frames).

        Used by: Chapter 2, before training.
        """
        X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        self._check_input(X)
        self.input_mean.copy_(X.mean(dim=(0, 3), keepdim=True))
        self.input_std.copy_(X.std(dim=(0, 3), keepdim=True).clamp_min(1e-3))

    def _check_input(self, x: torch.Tensor) -> None:
        n_mels = self.config["n_mels"]
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != n_mels or x.shape[3] < 5:
            raise InputShapeError(
                f"DCASE21Baseline expects input of shape (batch, 1, {n_mels}, frames >= 5): "
                f"one channel of {n_mels} mel bands; got {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (logits, before softmax), shape ``(batch, n_classes)``."""
        self._check_input(x)
        return super().forward((x - self.input_mean) / self.input_std)


class VGGishLike(LayerChain):
    """The VGGish-like network of the ICASSP 2023 paper, for timing pruning on wide layers.

    Six 3x3 convolutions (64, 128, 256, 256, 512, 512 filters, ReLU, no batch
    normalisation) with 2x2 max pooling after conv1, conv2, conv4 and conv6; dense layers
    of 4096 and 128 units and an output layer. On its 96 x 64 input (frames x mel bands)
    it has about 55.4 M parameters (220 MB of float32 weights), so build it only when
    needed; the book never trains it.

    Used by: the benchmark of the similarity step on wide layers (``benchmarks/pruning.py``).

    Parameters
    ----------
    n_classes : int
        Output classes.
    input_size : tuple of 2 int
        Input frames and mel bands, each divisible by 16.
    channels : tuple of 6 int
        Filters of conv1 to conv6.
    """

    def __init__(self, n_classes: int = 10, input_size=(96, 64),
                 channels=(64, 128, 256, 256, 512, 512)):
        channels = tuple(int(c) for c in channels)
        if len(channels) != 6 or min(channels) < 1:
            raise ValueError(f"channels must be six positive counts, got {channels}")
        if any(size % 16 for size in input_size):
            raise ValueError(f"input_size must be divisible by 16, got {input_size}")
        layers = []
        previous = 1
        for index, width in enumerate(channels, start=1):
            layers += [(f"conv{index}", nn.Conv2d(previous, width, 3, padding=1)),
                       (f"relu{index}", nn.ReLU())]
            if index in (1, 2, 4, 6):
                layers.append((f"pool{index}", nn.MaxPool2d(2)))
            previous = width
        flat = previous * (input_size[0] // 16) * (input_size[1] // 16)
        layers += [("flatten", nn.Flatten()),
                   ("dense1", nn.Linear(flat, 4096)), ("relu7", nn.ReLU()),
                   ("dense2", nn.Linear(4096, 128)), ("relu8", nn.ReLU()),
                   ("output", nn.Linear(128, n_classes))]
        super().__init__(OrderedDict(layers))
        self.config = {"n_classes": n_classes, "input_size": tuple(input_size), "channels": channels}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (logits), shape ``(batch, n_classes)``, for input ``(batch, 1, 96, 64)``."""
        expected = (1, *self.config["input_size"])
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise InputShapeError(
                f"VGGishLike expects input of shape (batch, {expected[0]}, {expected[1]}, "
                f"{expected[2]}), got {tuple(x.shape)}"
            )
        return super().forward(x)
