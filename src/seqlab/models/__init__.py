"""seqlab.models: model families with dataclass configs, rebuilt by `model_from_config`."""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from seqlab.errors import SeqlabError
from seqlab.models.classifier import (
    SequenceClassifier,
    SequenceClassifierConfig,
    class_probabilities,
)
from seqlab.models.language_model import LanguageModel, LanguageModelConfig
from seqlab.models.pretrained import PretrainedClassifier, PretrainedClassifierConfig
from seqlab.models.seq2seq import Seq2Seq, Seq2SeqConfig
from seqlab.models.translator import (
    CompactTranslator,
    CompactTranslatorConfig,
    TransformerTranslator,
    TransformerTranslatorConfig,
)

# kind (class name, as stored in checkpoints) -> (model class, config dataclass)
MODELS: dict[str, tuple[type[nn.Module], type]] = {
    "SequenceClassifier": (SequenceClassifier, SequenceClassifierConfig),
    "LanguageModel": (LanguageModel, LanguageModelConfig),
    "Seq2Seq": (Seq2Seq, Seq2SeqConfig),
    "TransformerTranslator": (TransformerTranslator, TransformerTranslatorConfig),
    "CompactTranslator": (CompactTranslator, CompactTranslatorConfig),
    "PretrainedClassifier": (PretrainedClassifier, PretrainedClassifierConfig),
}


def model_from_config(kind: str, cfg: dict[str, Any]) -> nn.Module:
    """Rebuild a model from its class name and `dataclasses.asdict(model.config)`."""
    if kind not in MODELS:
        raise SeqlabError(f"unknown model kind {kind!r}; known kinds: {', '.join(MODELS)}")
    model_class, config_class = MODELS[kind]
    names = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(cfg) - names)
    if unknown:
        raise SeqlabError(f"{kind} config has unknown fields {unknown}; valid: {sorted(names)}")
    try:
        return model_class(config_class(**cfg))
    except (TypeError, ValueError) as e:
        raise SeqlabError(f"cannot build {kind} from its config: {e}") from e


__all__ = [
    "CompactTranslator",
    "CompactTranslatorConfig",
    "LanguageModel",
    "LanguageModelConfig",
    "MODELS",
    "PretrainedClassifier",
    "PretrainedClassifierConfig",
    "Seq2Seq",
    "Seq2SeqConfig",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "TransformerTranslator",
    "TransformerTranslatorConfig",
    "class_probabilities",
    "model_from_config",
]
