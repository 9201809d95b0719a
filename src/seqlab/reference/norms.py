"""Batch, layer, instance and group normalisation of images (N, C, H, W), without learnable scale.

All four compute (x − mean) / sqrt(var + eps) and differ only in which entries share a mean and
variance (Wu & He 2018, "Group Normalization", §3.1 and Fig. 2):
    batch norm     one set per channel, over (N, H, W)       Ioffe & Szegedy 2015
    layer norm     one set per image, over (C, H, W)          Ba et al. 2016
    instance norm  one set per image and channel, over (H, W) Ulyanov et al. 2016
    group norm     one set per image and group of C/G channels
The variance is the biased one (divide by the count), as in the papers and torch in training mode.
`center_only=True` subtracts the mean only, the form used in course exercises.
"""

from __future__ import annotations

import numpy as np

from seqlab.reference._checks import as_float


def _images(x: np.ndarray) -> np.ndarray:
    """x as a float array of shape (N, C, H, W)."""
    x = as_float("x", x)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got shape {x.shape}")
    return x


def _normalize(x: np.ndarray, axes: tuple[int, ...], eps: float, center_only: bool) -> np.ndarray:
    """Subtract the mean over `axes` and, unless center_only, divide by sqrt(var + eps)."""
    centered = x - x.mean(axis=axes, keepdims=True)
    if center_only:
        return centered
    var = np.mean(centered**2, axis=axes, keepdims=True)  # biased: divide by the count
    return centered / np.sqrt(var + eps)


def batch_norm(x: np.ndarray, eps: float = 1e-5, center_only: bool = False) -> np.ndarray:
    """Normalise each channel over the batch and the image: statistics over (N, H, W)."""
    return _normalize(_images(x), (0, 2, 3), eps, center_only)


def layer_norm(x: np.ndarray, eps: float = 1e-5, center_only: bool = False) -> np.ndarray:
    """Normalise each image over all its channels: statistics over (C, H, W)."""
    return _normalize(_images(x), (1, 2, 3), eps, center_only)


def instance_norm(x: np.ndarray, eps: float = 1e-5, center_only: bool = False) -> np.ndarray:
    """Normalise each channel of each image on its own: statistics over (H, W)."""
    return _normalize(_images(x), (2, 3), eps, center_only)


def group_norm(
    x: np.ndarray, groups: int, eps: float = 1e-5, center_only: bool = False
) -> np.ndarray:
    """Normalise each image over groups of C/groups consecutive channels (Wu & He 2018)."""
    x = _images(x)
    N, C, H, W = x.shape
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"groups must be a positive integer, got {groups!r}")
    if C % groups:
        raise ValueError(f"groups must divide the number of channels C={C}, got {groups}")
    # groups = C gives instance norm and groups = 1 layer norm (Wu & He 2018, §3.1).
    grouped = x.reshape(N, groups, C // groups, H, W)  # (N, G, C/G, H, W)
    return _normalize(grouped, (2, 3, 4), eps, center_only).reshape(N, C, H, W)
