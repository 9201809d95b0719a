"""Shape checks shared by the reference functions: each raises ValueError naming the argument."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_float(name: str, x: object) -> np.ndarray:
    """`x` as a floating array (integers become float64); `name` is used in the error."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as e:  # ragged nested lists
        raise ValueError(f"{name} must be a numeric array: {e}") from e
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    if arr.dtype.kind not in "f":
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    return arr


def matrix(
    name: str, x: object, expected: str, rows: int | None = None, cols: int | None = None
) -> np.ndarray:
    """`x` as a 2-D float array, checking the given sizes; `expected` reads e.g. '(T, C)'."""
    arr = as_float(name, x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape {expected}, got shape {arr.shape}")
    if (rows is not None and arr.shape[0] != rows) or (cols is not None and arr.shape[1] != cols):
        raise ValueError(f"{name} must have shape {expected}, got shape {arr.shape}")
    return arr


def vector(name: str, x: object, expected: str, size: int | None = None) -> np.ndarray:
    """`x` as a 1-D float array; R's column or row matrices ((n, 1) or (1, n)) are accepted too."""
    arr = as_float(name, x)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a vector of shape {expected}, got shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        raise ValueError(f"{name} must have shape {expected}, got shape {arr.shape}")
    return arr


def token_labels(tokens: Sequence[str] | None, count: int) -> tuple[str, ...] | None:
    """Row labels as a tuple, checking that there is one per row."""
    if tokens is None:
        return None
    if isinstance(tokens, str):
        raise ValueError("tokens must be a sequence of strings, one per row, not a single string")
    labels = tuple(str(t) for t in tokens)
    if len(labels) != count:
        raise ValueError(f"tokens must have one label per row ({count}), got {len(labels)}")
    return labels
