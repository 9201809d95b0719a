"""PretrainedClassifier: a pretrained Transformer encoder (BERT and kin) with a classification head.

The encoder is a Hugging Face `transformers` model; seqlab wraps it in its own contracts:
`logits, loss = model(input_ids=..., attention_mask=..., labels=...)`, and a dataclass config
that holds the encoder's HF config as plain data, so `model_from_config` rebuilds the network
offline from a checkpoint (the weights come from the checkpoint, not from a hub).

Fine-tuning follows Devlin et al. (2019) §4 and Sun et al. (2019), "How to Fine-Tune BERT for
Text Classification?": a linear layer on a pooled sentence vector, cross-entropy, AdamW with
warm-up and decay, optionally a lower learning rate for lower layers (`layer_groups`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from seqlab.errors import SeqlabError

POOLINGS = ("cls", "mean")
_LAST_N = re.compile(r"^last-(\d+)$")


def _transformers() -> Any:
    """The `transformers` package, or a SeqlabError saying how to install it."""
    try:
        import transformers
    except ImportError:
        raise SeqlabError(
            "fine-tuning pretrained models needs Hugging Face transformers: "
            "pip install 'seqlab[finetune]'"
        ) from None
    return transformers


@dataclass
class PretrainedClassifierConfig:
    """The encoder's HF config (a plain dict), the number of labels and the head's settings."""

    encoder: dict[str, Any] = field(default_factory=dict)  # transformers' config.to_dict()
    num_labels: int = 2
    pooling: str = "mean"  # "cls": the first token's vector; "mean": the mean over real tokens
    dropout: float = 0.1  # before the output layer, as in BertForSequenceClassification
    multi_label: bool = False  # K sigmoids and binary cross-entropy against labels (B, K)

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.num_labels < 2:
            raise ValueError(f"num_labels must be at least 2, got {self.num_labels}")


def hf_config(encoder: dict[str, Any]) -> Any:
    """The `transformers` config object of a stored dict; SeqlabError if it is no sequence
    encoder (a decoder-only or encoder-decoder model, or no text model at all)."""
    tf = _transformers()
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    kind = encoder.get("model_type")
    if kind not in tf.CONFIG_MAPPING:
        raise SeqlabError(f"unknown model type {kind!r} (transformers {tf.__version__})")
    config = tf.CONFIG_MAPPING[kind].from_dict(encoder)
    # Bidirectional text encoders are the models pretrained as masked language models.
    encoder_like = kind in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    if not encoder_like or config.is_encoder_decoder or getattr(config, "is_decoder", False):
        raise SeqlabError(
            f"a {kind!r} model is not a sequence encoder; fine-tuning needs a BERT-like encoder "
            "(bert, roberta, distilbert, electra, ...)"
        )
    return config


def config_dict(config: Any) -> dict[str, Any]:
    """A transformers config as plain JSON data (dtype objects become strings)."""
    return json.loads(config.to_json_string(use_diff=False))


class PretrainedClassifier(nn.Module):
    """Pretrained encoder -> pooled vector (B, C) -> dropout -> linear -> logits (B, K)."""

    def __init__(self, config: PretrainedClassifierConfig, encoder: nn.Module | None = None):
        super().__init__()
        self.config = config
        if encoder is None:  # rebuilt from a checkpoint: the architecture only, weights follow
            encoder = _transformers().AutoModel.from_config(hf_config(config.encoder))
        if getattr(encoder, "pooler", None) is not None:
            # BERT's pooler (trained for next-sentence prediction) is not used here; unused
            # parameters would get no gradient (DDP fails) and count as trainable.
            encoder.pooler = None
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(hidden, config.num_labels)
        nn.init.normal_(self.head.weight, std=0.02)  # BERT's initializer_range
        nn.init.zeros_(self.head.bias)

    @classmethod
    def from_pretrained(
        cls,
        model_dir: str | Path,
        num_labels: int,
        pooling: str = "mean",
        dropout: float = 0.1,
        multi_label: bool = False,
    ) -> PretrainedClassifier:
        """The encoder of a local model folder (config.json + weights) with a new head."""
        tf = _transformers()
        model_dir = Path(model_dir)
        try:
            hf = tf.AutoConfig.from_pretrained(model_dir, local_files_only=True)
        except (OSError, ValueError) as e:
            raise SeqlabError(f"{model_dir}: not a model folder ({e})") from None
        encoder_dict = config_dict(hf)
        hf_config(encoder_dict)  # refuse decoders and other non-encoders before loading weights
        tf.utils.logging.disable_progress_bar()
        try:
            encoder = tf.AutoModel.from_pretrained(model_dir, config=hf, local_files_only=True)
        except (OSError, ValueError) as e:
            raise SeqlabError(f"{model_dir}: cannot load the weights ({e})") from None
        config = PretrainedClassifierConfig(encoder_dict, num_labels, pooling, dropout, multi_label)
        return cls(config, encoder)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, K) of input ids (B, T) with mask (B, T) (1 = token, 0 = padding); the
        mean cross-entropy as loss when `labels` (B,) are given (multi-label: the binary
        cross-entropy of K sigmoids against labels (B, K) of 0/1)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]  # (B, T, C)
        if self.config.pooling == "cls":
            pooled = states[:, 0]  # (B, C)
        else:
            mask = attention_mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)  # (B, C)
        logits = self.head(self.dropout(pooled))  # (B, K)
        if labels is None:
            return logits, None
        if self.config.multi_label:
            from seqlab.models.classifier import multi_label_loss

            return logits, multi_label_loss(logits, labels)
        return logits, F.cross_entropy(logits, labels)

    def example_batch(
        self, batch_size: int = 2, length: int | None = None
    ) -> dict[str, torch.Tensor]:
        """Random word-piece ids (B, T) and a full mask, e.g. for `seqlab.summary`."""
        T = length or 8
        ids = torch.randint(0, self.encoder.config.vocab_size, (batch_size, T))
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    # -- which parameters train, and at which learning rate --------------------------------------
    def layers(self) -> nn.ModuleList:
        """The encoder's Transformer layers, bottom to top: the ModuleList holding exactly
        `num_hidden_layers` modules (encoder.layer in BERT, transformer.layer in DistilBERT)."""
        n = self.encoder.config.num_hidden_layers
        for module in self.encoder.modules():
            if isinstance(module, nn.ModuleList) and len(module) == n:
                return module
        raise SeqlabError(f"cannot find the {n} layers of this {type(self.encoder).__name__}")

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters by depth from the output: [head and anything above the layers, top layer,
        ..., bottom layer, embeddings]. With layer-wise learning-rate decay (Howard & Ruder 2018;
        Clark et al. 2020) group d trains at lr * decay**d."""
        layers = list(self.layers())
        in_layers = {id(p) for layer in layers for p in layer.parameters()}
        embeddings = {id(p) for p in self.encoder.get_input_embeddings().parameters()}
        embed_module = getattr(self.encoder, "embeddings", None)
        if embed_module is not None:  # positions, token types, their LayerNorm
            embeddings |= {id(p) for p in embed_module.parameters()}
        top = [p for p in self.parameters() if id(p) not in in_layers | embeddings]
        groups = [top, *([*layer.parameters()] for layer in reversed(layers))]
        return [*groups, [p for p in self.parameters() if id(p) in embeddings]]

    def freeze(self, strategy: str) -> int:
        """Train only part of the model: "head" (frozen encoder), "last-N" (the head and the top
        N layers) or "full" (everything). Returns the number of trainable parameters."""
        groups = self.layer_groups()
        depth = strategy_depth(strategy, len(groups) - 2)
        for d, group in enumerate(groups):
            for p in group:
                p.requires_grad_(d <= depth)
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def strategy_depth(strategy: str, num_layers: int) -> int:
    """How many `layer_groups` below the head a strategy trains: head 0, last-N N, full all."""
    if strategy == "head":
        return 0
    if strategy == "full":
        return num_layers + 1
    m = _LAST_N.match(strategy)
    if m is None:
        raise SeqlabError(f"unknown strategy {strategy!r}; use head, last-N (e.g. last-2) or full")
    n = int(m[1])
    if not 1 <= n <= num_layers:
        raise SeqlabError(
            f"{strategy}: this encoder has {num_layers} layers (use last-1 to "
            f"last-{num_layers}, or full)"
        )
    return n
