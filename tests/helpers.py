"""Helpers the tests share: synthetic data files, a tiny BERT folder, a tiny classifier.

Every test imports these from here, never from another test file. Each writer is seeded, so a
test that trains on its output reaches the same figures on every run.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from seqlab.train import TrainConfig, Trainer

# -- sentiment reviews (seqlab train classify, the sentiment study) ----------------------------
POSITIVE = "good great fine lovely superb fun".split()
NEGATIVE = "bad awful poor boring dull worst".split()
FILLER = "the a movie film plot actor scene story it was and".split()


def write_reviews(path: Path, n: int, seed: int = 0) -> Path:
    """A CSV of n short synthetic reviews; two sentiment words decide the label."""
    rng = random.Random(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for i in range(n):
            label = i % 2
            words = rng.choices(FILLER, k=rng.randint(4, 12))
            words += rng.choices(POSITIVE if label else NEGATIVE, k=2)
            rng.shuffle(words)
            w.writerow([" ".join(words), "pos" if label else "neg"])
    return path


def write_imdb(folder: Path, n: int, seed: int = 0) -> Path:
    """An IMDB folder (train.jsonl.gz and test.jsonl.gz, n reviews each, labels 0/1) of the
    synthetic reviews of `write_reviews`: what `--data imdb --data-dir FOLDER` reads."""
    folder = Path(folder) / "imdb"
    folder.mkdir(parents=True, exist_ok=True)
    for offset, split in enumerate(("train", "test")):
        rng = random.Random(seed * 2 + offset)
        with gzip.open(folder / f"{split}.jsonl.gz", "wt", encoding="utf-8") as f:
            for i in range(n):
                label = i % 2
                words = rng.choices(FILLER, k=rng.randint(4, 12))
                words += rng.choices(POSITIVE if label else NEGATIVE, k=2)
                rng.shuffle(words)
                f.write(json.dumps({"text": " ".join(words), "label": label}) + "\n")
    return folder.parent


# -- language-model text (seqlab train lm) ---------------------------------------------------
SUBJECTS = "the cat|a dog|my friend|the old man|a small bird".split("|")
VERBS = "sees|likes|follows|hears".split("|")
OBJECTS = "the ball|a tree|the river|her house|a red car".split("|")


def write_corpus(path: Path, lines: int, seed: int = 0) -> Path:
    """Sentences from a tiny grammar: after a few words the next word is nearly determined."""
    rng = random.Random(seed)
    text = [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} ." for _ in range(lines)
    ]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


# -- translation pairs (seqlab train translate, the translation study) ------------------------
WORDS = {"ein": "a", "mann": "man", "hund": "dog", "frau": "woman", "sieht": "sees",
         "mag": "likes", "den": "the", "die": "the", "ball": "ball", "katze": "cat"}  # fmt: skip


def write_pairs(folder: Path, n: int, seed: int) -> tuple[Path, Path]:
    """German-like sentences and their word-by-word English: a task attention learns fast."""
    rng = random.Random(seed)
    src, tgt = [], []
    for _ in range(n):
        words = [rng.choice(list(WORDS)) for _ in range(rng.randint(3, 7))]
        src.append(" ".join(words).capitalize() + " .")
        tgt.append(" ".join(WORDS[w] for w in words).capitalize() + " .")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{seed}.de").write_text("\n".join(src) + "\n", encoding="utf-8")
    (folder / f"{seed}.en").write_text("\n".join(tgt) + "\n", encoding="utf-8")
    return folder / f"{seed}.de", folder / f"{seed}.en"


# -- a tiny BERT and labelled questions (seqlab finetune) ------------------------------------
# The folder has what a real model folder has (config.json, model.safetensors, tokenizer.json,
# vocab.txt), so the fine-tuning code runs end to end in tests without the MiniLM package.
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


# -- a tiny classifier for the Trainer -------------------------------------------------------
@dataclass
class TinyConfig:
    """Config of the tiny test classifier."""

    vocab_size: int = 12
    dim: int = 8
    dropout: float = 0.0


class TinyClassifier(nn.Module):
    """Mean of embeddings -> one sigmoid unit, called as `logits, loss = model(**batch)`."""

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.dim, padding_idx=0)
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.dim, 1)

    def forward(self, ids, lengths=None, labels=None):
        h = self.drop(self.embed(ids).mean(dim=1))  # (B, C)
        logits = self.out(h)  # (B, 1)
        loss = None
        if labels is not None:
            loss = nn.functional.binary_cross_entropy_with_logits(logits[:, 0], labels.float())
        return logits, loss


class ToyData(Dataset):
    """Sequences of ids 2..vocab-1; the label says whether token 2 occurs (flipped if `flip`)."""

    def __init__(self, n: int, seed: int, length: int = 6, vocab: int = 12, flip: bool = False):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(2, vocab, (n, length), generator=g)
        self.labels = (self.ids == 2).any(dim=1).long()
        if flip:
            self.labels = 1 - self.labels

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"ids": self.ids[i], "labels": self.labels[i]}


def loaders(batch_size: int = 16, flip_valid: bool = False, shuffle: bool = True):
    """A shuffled training loader (uses torch's global RNG) and a validation loader."""
    train = DataLoader(ToyData(128, seed=1), batch_size=batch_size, shuffle=shuffle)
    valid = DataLoader(ToyData(64, seed=2, flip=flip_valid), batch_size=batch_size)
    return train, valid


def make_trainer(tmp_path, callbacks=(), dropout=0.0, flip_valid=False, **overrides):
    """Seeded tiny trainer writing to tmp_path."""
    torch.manual_seed(0)
    cfg = TrainConfig(**{"epochs": 4, "lr": 0.05, "quiet": True, **overrides})
    model = TinyClassifier(TinyConfig(dropout=dropout))
    train, valid = loaders(flip_valid=flip_valid)
    meta = {"task": "classify", "label_names": ["no", "yes"]}
    return Trainer(model, cfg, train, valid, out_dir=tmp_path, meta=meta, callbacks=callbacks)
