"""Data pipelines: where data lives, tokenizers, vocabularies, data sets and batching.

The names below are imported lazily (PEP 562), so `import seqlab.data.paths` and the CLI's
start-up stay free of torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Vocab": "vocab",
    "get_tokenizer": "tokenizers",
    "TextEncoder": "text",
    "ClassificationData": "classification",
    "ClassificationDataset": "classification",
    "load_imdb": "imdb",
    "load_trec": "trec",
    "load_text_classification": "user_data",
    "pad_collate": "batching",
    "BucketBatchSampler": "batching",
    "batchify": "lm",
    "get_batch": "lm",
    "load_wikitext2": "lm",
    "load_lm_text": "lm",
    "lm_batches": "lm",
    "load_multi30k": "translation",
    "load_parallel": "translation",
    "translation_collate": "translation",
    "data_dir": "paths",
    "cache_dir": "paths",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"seqlab.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'seqlab.data' has no attribute {name!r}")
