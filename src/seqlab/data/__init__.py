"""Data pipelines: where data lives, tokenizers, vocabularies, data sets and batching."""
