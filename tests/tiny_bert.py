"""Test helpers: a tiny randomly initialised BERT folder and a small labelled question file.

The folder has what a real model folder has (config.json, model.safetensors, tokenizer.json,
vocab.txt), so the fine-tuning code runs end to end in tests without the MiniLM package.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

# Three question types whose first word decides the label: string labels, as in a user's file.
QUESTIONS = {
    "LOC": ["where", "is", "the", "river", "city", "lake", "mountain", "found"],
    "HUM": ["who", "wrote", "the", "book", "song", "invented", "painted", "led"],
    "NUM": ["how", "many", "much", "people", "miles", "years", "does", "cost"],
}
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def vocabulary() -> list[str]:
    """Specials, every word of QUESTIONS, a few word pieces and '?'."""
    words = sorted({w for ws in QUESTIONS.values() for w in ws})
    return [*SPECIALS, *words, "?", "un", "##known", "##s"]


def write_tiny_bert(folder: Path, *, layers: int = 2, seed: int = 0, tokenizer_json: bool = True):
    """A BERT of hidden size 32 with `layers` layers, random weights, and its WordPiece
    tokenizer (tokenizer.json, unless `tokenizer_json=False`: then vocab.txt only)."""
    import torch
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertModel

    folder.mkdir(parents=True, exist_ok=True)
    vocab = vocabulary()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    if tokenizer_json:
        tok = Tokenizer(WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B [SEP]",
            special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
        )
        tok.save(str(folder / "tokenizer.json"))
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def write_questions(path: Path, n: int, seed: int = 0) -> Path:
    """A CSV (question, type) of n questions, the types cycling through QUESTIONS' labels."""
    rng = random.Random(seed)
    labels = list(QUESTIONS)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["question", "type"])
        for i in range(n):
            label = labels[i % len(labels)]
            words = QUESTIONS[label]
            text = [words[0], *rng.choices(words[1:], k=rng.randint(2, 6)), "?"]
            w.writerow([" ".join(text), label])
    return path
