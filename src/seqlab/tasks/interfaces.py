"""What a loaded checkpoint is, and what a task can do with one beyond training and evaluation:
explicit interfaces a task implements (checked with `isinstance`), never methods that raise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch

from seqlab.errors import SeqlabError

if TYPE_CHECKING:
    from seqlab.tasks.base import Task


@dataclass
class Loaded:
    """A checkpoint ready for inference: what `seqlab.tasks.load` returns."""

    task: Task
    path: Path
    model: torch.nn.Module  # eval mode, on `device`
    run: Any  # the task's run config as saved (sections data, model, train[, decode])
    encoders: dict[str, Any]  # checkpoint key ("encoder", "tgt_encoder") -> text encoder
    label_names: list[str] | None
    state: dict[str, Any]  # the raw checkpoint
    device: torch.device

    @property
    def encoder(self) -> Any:
        """The input (source) text encoder."""
        return self.encoders["encoder"]


@runtime_checkable
class Classifies(Protocol):
    """A task whose models label texts (`seqlab predict`)."""

    def predict(self, loaded: Loaded, texts: list[str]) -> list[tuple[str, float]]:
        """(label, probability) of the most likely class of each text."""

    def probabilities(self, loaded: Loaded, texts: list[str]) -> torch.Tensor:
        """(B, num_classes) probability of every class, columns in `loaded.label_names` order
        (multi-label: the K independent sigmoids)."""

    def labels_above(self, loaded: Loaded, texts: list[str]) -> list[list[tuple[str, float]]]:
        """Per text, (label, probability) of every label it is given, most probable first: for
        a multi-label model those above their thresholds, else the most likely class."""


@runtime_checkable
class Generates(Protocol):
    """A task whose models continue texts (`seqlab generate`)."""

    def generate(self, loaded: Loaded, prompt: str, **options: Any) -> tuple[list[str], list[str]]:
        """Continuations of `prompt`, and its words the vocabulary does not know."""


@runtime_checkable
class Translates(Protocol):
    """A task whose models translate texts (`seqlab translate`)."""

    def translate(
        self, loaded: Loaded, texts: list[str], **options: Any
    ) -> tuple[list[str], list[str]]:
        """Translations of `texts`, and notes on the input."""

    def translate_with_scores(
        self, loaded: Loaded, texts: list[str], **options: Any
    ) -> tuple[list[str], list[float], list[str]]:
        """Translations, the natural-log probability of each under the model, and notes."""

    def input_notes(self, loaded: Loaded, texts: list[str]) -> list[str]:
        """The notes `translate` gives on `texts`, without translating them."""


@runtime_checkable
class Explains(Protocol):
    """A task that shows what its model looked at (`"explain": true` in the API).

    `explain(loaded, text, max_tokens=None, **options)` answers the explain contract (issue
    19) for one text: attention maps and recurrent traces from `seqlab.explain.record`, plus
    what the task adds (a language model's sampled steps, a translator's final beam). Over
    `max_tokens` tokens it raises `seqlab.explain.TooManyTokens` before the expensive part."""

    def explain(self, loaded: Loaded, text: str, **options: Any) -> dict[str, Any]:
        """The contract's explanation of one text (classify, generate: the prompt, translate)."""


@runtime_checkable
class EvaluatesWithCache(Protocol):
    """A task whose models can be scored with the continuous cache (`evaluate --cache`)."""

    def evaluate_with_cache(self, loaded: Loaded, **options: Any) -> dict[str, float]:
        """Perplexity with and without the cache."""


def require(loaded: Loaded, interface: type, what: str) -> Any:
    """`loaded.task` if it implements `interface`; else a SeqlabError saying what the
    checkpoint is and how its models are used."""
    if not isinstance(loaded.task, interface):
        use = loaded.task.use.replace("CHECKPOINT", str(loaded.path))
        raise SeqlabError(
            f"{loaded.path} is a checkpoint of the {loaded.task.name} task, not {what}; use `{use}`"
        )
    return loaded.task
