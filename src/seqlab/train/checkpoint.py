"""Checkpoints: one file of plain data, written atomically, loaded without running pickled code."""

from __future__ import annotations

import os
import pickle
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqlab.atomic import replacing
from seqlab.errors import CheckpointError

# 2: recurrent cells name input-to-hidden weights U and hidden-to-hidden W (Goodfellow eq. 10.8);
# format 1 had them the other way round, and `_upgrade` renames them when it loads one.
# 3: the run config is nested (`config`: data, model, decode sections; was a flat `data` dict),
# one class per architecture (kinds TransformerLM/RecurrentLM, translator sizes embed_dim/...,
# classifier weights under encoder.*). Format 2 is read as it is: `upgrade_spec` renames kinds
# and config fields here, `Task.saved_run` nests the flat settings, and SequenceClassifier moves
# its old weight keys on load. A seqlab that reads up to 2 refuses format 3 files by name.
FORMAT_VERSION = 3
_CELL_KEY = re.compile(r"^(.*\bcells\.\d+\.)(W|U|b_U)(\.weight|\.bias)?$")
# Keys every seqlab checkpoint has (docs/design.md, "Checkpoints").
REQUIRED_KEYS = ("format_version", "model_kind", "model_config", "task", "model")


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write `state` to `path` atomically: a temporary file in the same folder, then os.replace.

    A crash mid-write leaves the previous file intact, never a truncated one.
    """
    state = {"format_version": FORMAT_VERSION, **state}
    with replacing(path, "wb", fsync=True) as f:
        torch.save(state, f)
    return Path(path)


def finite_weights(model: torch.nn.Module) -> bool:
    """True if every floating-point weight and buffer of `model` is finite: checked before a
    checkpoint is written, since an optimizer step can blow up weights after the last loss
    was computed. One reduction per tensor and a single sync, so once per epoch costs little."""
    tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
    if not tensors:
        return True
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def load_checkpoint(
    path: str | os.PathLike,
    *,
    task: str | None = None,
    model_kind: str | None = None,
    model_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Load a checkpoint with `weights_only=True`; check it is seqlab's and, if given, matches.

    Raises CheckpointError for a missing, truncated or foreign file, or one of another task or
    model (kind or config), with a message that says which.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message advises weights_only=False, i.e. running the file's code: keep only
        # the line that says what was found ("Unsupported operand 197", "... GLOBAL posix.system").
        found = re.search(r"GLOBAL [\w.]+|Unsupported operand \d+", str(e))
        reason = found[0] if found else "not a pickle of plain data"
        raise CheckpointError(
            f"{path} is not a seqlab checkpoint: it holds something other than plain data and "
            f"tensors, and seqlab never runs code from a file ({reason})"
        ) from None
    except Exception as e:  # torch raises many types for a damaged or foreign file
        reason = f"{type(e).__name__}: {e}".strip().splitlines()[0][:200]
        raise CheckpointError(f"{path} is truncated or not a checkpoint ({reason})") from None
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED_KEYS):
        raise CheckpointError(f"{path} is not a seqlab checkpoint (keys {REQUIRED_KEYS} expected)")
    if state["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {state['format_version']}; this seqlab reads up to "
            f"{FORMAT_VERSION}; upgrade seqlab"
        )
    if state["format_version"] < 2:
        _upgrade(state)
    from seqlab.models import upgrade_spec  # old model kinds and config names

    state["model_kind"], state["model_config"] = upgrade_spec(
        state["model_kind"], state["model_config"]
    )
    if task is not None and state["task"] != task:
        raise CheckpointError(f"{path} is a {state['task']!r} checkpoint, not {task!r}")
    if model_kind is not None and state["model_kind"] != model_kind:
        raise CheckpointError(
            f"{path} holds a {state['model_kind']} model, not the {model_kind} being trained"
        )
    if model_config is not None and state["model_config"] != model_config:
        diff = sorted(
            k
            for k in set(model_config) | set(state["model_config"])
            if model_config.get(k) != state["model_config"].get(k)
        )
        raise CheckpointError(
            f"{path} holds another model: its config differs in {', '.join(diff)}"
        )
    return state


def _upgrade(state: dict[str, Any]) -> None:
    """Format 1 -> 2: swap the recurrent cells' W and U (and b_U -> b_W) in the model weights.

    Parameters keep their registration order (input weights first), so optimizer state, which
    is stored by position, needs no change.
    """
    swap = {"W": "U", "U": "W", "b_U": "b_W"}
    renamed = {}
    for key, value in state["model"].items():
        m = _CELL_KEY.match(key)
        renamed[f"{m[1]}{swap[m[2]]}{m[3] or ''}" if m else key] = value
    state["model"] = renamed
    state["format_version"] = 2


def load_model_weights(model: torch.nn.Module, weights: dict[str, torch.Tensor], path: Any) -> None:
    """`model.load_state_dict(weights)`, turning a mismatch into a CheckpointError."""
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[:2]
        raise CheckpointError(f"{path} does not fit this model: {' '.join(first)}") from None


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) generator states as tensors and lists."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(mt), gauss],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states saved by `rng_state`."""
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
