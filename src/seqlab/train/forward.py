"""How the Trainer runs a model on a batch: the default call, and truncated BPTT.

The Trainer never branches on the task or the model: it calls `forward(model, batch)` for every
batch and `forward.start()` before every pass over a loader (a training epoch, a validation or a
test pass). The default is `model(**batch)`. `CarryState` keeps a recurrent state from one
batch to the next, which is what truncated back-propagation through time needs.
"""

from __future__ import annotations

from typing import Any

import torch

Batch = dict[str, torch.Tensor]


class Forward:
    """The plain call `logits, loss = model(**batch)`; nothing carried between batches."""

    def start(self) -> None:
        """Called before each pass over a loader."""

    def __call__(self, model: torch.nn.Module, batch: Batch) -> tuple[Any, Any]:
        """(logits, loss) of `model` on `batch`."""
        return model(**batch)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint taken inside an epoch needs to continue the pass."""
        return {}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        """Continue a pass from `state_dict()`'s output (after `start`), on `device`."""


def detach_state(state: Any) -> Any:
    """The same state cut from the graph of the batches before (tensors, tuples, lists, None)."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple | list):
        return type(state)(detach_state(s) for s in state)
    return state


class CarryState(Forward):
    """Truncated back-propagation through time (Williams & Peng 1990).

    Consecutive batches continue the same text rows (`seqlab.data.lm.LMBatches`), so the state
    after one batch is the right start for the next. The model is called as
    `model(**batch, carry=self)`: it starts from `self.state` and leaves its final state there.
    Before each batch the state is detached, so gradients flow back `bptt` steps only, as
    `repackage_hidden` does in pytorch/examples' word_language_model. Calling through `model`
    (not a method of it) keeps DistributedDataParallel's gradient hooks in place.
    """

    def __init__(self) -> None:
        self.state: Any = None

    def start(self) -> None:
        """A new pass starts at the top of the text columns: from the zero state."""
        self.state = None

    def __call__(self, model: torch.nn.Module, batch: Batch) -> tuple[Any, Any]:
        """(logits, loss) of `model` on `batch`, continuing from the previous batch's state."""
        self.state = detach_state(self.state)
        return model(**batch, carry=self)

    def state_dict(self) -> dict[str, Any]:
        """The carried state (on the CPU), so a run resumed inside an epoch continues the text."""
        return {"state": _to(detach_state(self.state), "cpu")}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.state = _to(state["state"], device)


def _to(state: Any, device: torch.device | str) -> Any:
    """The tensors of a state (tensors, tuples, lists, None) on `device`."""
    if isinstance(state, torch.Tensor):
        return state.to(device)
    if isinstance(state, tuple | list):
        return type(state)(_to(s, device) for s in state)
    return state
