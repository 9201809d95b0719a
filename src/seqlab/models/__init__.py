"""seqlab.models: model families with dataclass configs, rebuilt by `model_from_config`.

`MODELS` is the one map from a kind (the class name checkpoints store) to its class and config.
Build a model with `SequenceClassifier(config)`, `language_model(config)` (the class `arch`
names) or `translator(arch, src_vocab_size, tgt_vocab_size, **settings)`.
"""

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
from seqlab.models.language_model import (
    LanguageModel,
    LanguageModelConfig,
    RecurrentLM,
    TransformerLM,
    language_model,
    language_model_class,
)
from seqlab.models.pretrained import PretrainedClassifier, PretrainedClassifierConfig
from seqlab.models.seq2seq import Seq2Seq, Seq2SeqConfig
from seqlab.models.transformer_translators import (
    CompactTranslator,
    CompactTranslatorConfig,
    TransformerTranslator,
    TransformerTranslatorConfig,
)

# kind (class name, as stored in checkpoints) -> (model class, config dataclass)
MODELS: dict[str, tuple[type[nn.Module], type]] = {
    "SequenceClassifier": (SequenceClassifier, SequenceClassifierConfig),
    "TransformerLM": (TransformerLM, LanguageModelConfig),
    "RecurrentLM": (RecurrentLM, LanguageModelConfig),
    "Seq2Seq": (Seq2Seq, Seq2SeqConfig),
    "TransformerTranslator": (TransformerTranslator, TransformerTranslatorConfig),
    "CompactTranslator": (CompactTranslator, CompactTranslatorConfig),
    "PretrainedClassifier": (PretrainedClassifier, PretrainedClassifierConfig),
}
# `seqlab train translate --model` -> kind
TRANSLATORS = {"seq2seq": "Seq2Seq", "transformer": "TransformerTranslator",
               "compact": "CompactTranslator"}  # fmt: skip
# Config fields renamed since checkpoints were first written: kind -> {old name: new name}.
CONFIG_RENAMES: dict[str, dict[str, str]] = {
    "TransformerTranslator": {
        "d_model": "embed_dim",
        "d_ff": "hidden_size",
        "num_encoder_layers": "num_layers",
        "num_decoder_layers": "decoder_layers",
    },
    "CompactTranslator": {"d_model": "embed_dim", "d_ff": "hidden_size"},
}


def upgrade_spec(kind: str, cfg: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, config dict) of a checkpoint in today's names: the one class "LanguageModel" of
    old checkpoints becomes the class its `arch` names, old config fields their new names, and
    fields added since it was written hold their defaults (which the old model had)."""
    if kind == "LanguageModel":
        try:
            kind = language_model_class(cfg.get("arch", "transformer")).__name__
        except ValueError as e:
            raise SeqlabError(f"cannot build {kind} from its config: {e}") from None
    renames = CONFIG_RENAMES.get(kind, {})
    new = {renames.get(k, k): v for k, v in cfg.items()}
    if "num_decoder_layers" in cfg and new["decoder_layers"] == new.get("num_layers"):
        new["decoder_layers"] = None  # as new configs say "as deep as the encoder"
    if kind in MODELS:
        for f in dataclasses.fields(MODELS[kind][1]):
            if f.name not in new and f.default is not dataclasses.MISSING:
                new[f.name] = f.default
            elif f.name not in new and f.default_factory is not dataclasses.MISSING:
                new[f.name] = f.default_factory()
    return kind, new


def model_from_config(kind: str, cfg: dict[str, Any]) -> nn.Module:
    """Rebuild a model from its class name and `dataclasses.asdict(model.config)` (old
    checkpoints' kinds and field names included, see `upgrade_spec`)."""
    kind, cfg = upgrade_spec(kind, cfg)
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


def translator(arch: str, src_vocab_size: int, tgt_vocab_size: int, **settings: Any) -> nn.Module:
    """The translator `arch` names ("seq2seq", "transformer", "compact") with the `settings`
    its config has; settings only the other translators have (cell, num_heads, ...) are left
    out, so one section of options builds every family. ValueError for an unknown arch or a
    setting no translator has."""
    if arch not in TRANSLATORS:
        raise ValueError(f"translator must be one of {tuple(TRANSLATORS)}, got {arch!r}")
    fields = {k: {f.name for f in dataclasses.fields(MODELS[v][1])} for k, v in TRANSLATORS.items()}
    unknown = sorted(set(settings) - set().union(*fields.values()))
    if unknown:
        raise ValueError(f"no translator has the settings {unknown}")
    model_class, config_class = MODELS[TRANSLATORS[arch]]
    own = {k: v for k, v in settings.items() if k in fields[arch]}
    return model_class(config_class(src_vocab_size, tgt_vocab_size, **own))


__all__ = [
    "CONFIG_RENAMES",
    "CompactTranslator",
    "CompactTranslatorConfig",
    "LanguageModel",
    "LanguageModelConfig",
    "MODELS",
    "PretrainedClassifier",
    "PretrainedClassifierConfig",
    "RecurrentLM",
    "Seq2Seq",
    "Seq2SeqConfig",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "TRANSLATORS",
    "TransformerLM",
    "TransformerTranslator",
    "TransformerTranslatorConfig",
    "class_probabilities",
    "language_model",
    "model_from_config",
    "translator",
    "upgrade_spec",
]
