"""Language-modelling data: token streams, `batchify`/`get_batch` and WikiText-2.

The batching follows pytorch/examples word_language_model (main.py). `batchify` cuts the stream
into B columns; `get_batch` walks down the columns `bptt` rows at a time:

    stream a b c d e f g h i j k l m n o p q r s t u v w x (B=4)
    ┌ a g m s ┐   get_batch(i=0, bptt=2): data  ┌ a g m s ┐  target ┌ b h n t ┐ -> flattened
    │ b h n t │                                 └ b h n t ┘         └ c i o u ┘    (bptt*B,)
    │ c i o u │
    │ d j p v │   The target is the data shifted down by one row, so the last chunk has
    │ e k q w │   len(source) - 1 - i rows when fewer than bptt are left.
    └ f l r x ┘
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqlab.data.cache import cached, file_identity, from_json_array, json_array
from seqlab.data.download import find_file
from seqlab.data.paths import data_dir as resolve_data_dir
from seqlab.data.readers import read_lines
from seqlab.data.tokenizers import get_tokenizer
from seqlab.data.vocab import EOS, SOS, Vocab
from seqlab.errors import DataNotFoundError, SeqlabError


def batchify(data: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N,) token stream -> (N // B, B): B contiguous columns, the remainder dropped."""
    if data.dim() != 1:
        raise ValueError(f"data must have shape (N,), got {tuple(data.shape)}")
    nbatch = data.size(0) // batch_size
    if nbatch == 0:
        raise SeqlabError(f"{data.size(0)} tokens are too few for batch size {batch_size}")
    return data[: nbatch * batch_size].view(batch_size, -1).t().contiguous()  # (N // B, B)


def get_batch(source: torch.Tensor, i: int, bptt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows i..i+bptt of a batchified (N, B) source: data (T, B) and the flat target (T * B,)."""
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i : i + seq_len]  # (T, B)
    target = source[i + 1 : i + 1 + seq_len].reshape(-1)  # (T * B,)
    return data, target


class LMBatches:
    """Batch-first truncated-BPTT batches {"tokens": (B, T), "targets": (B, T)} of a stream.

    Consecutive batches continue each row, so a recurrent state can be carried across them.
    With `num_replicas` > 1 the stream is batchified into B * R columns and rank r reads its own
    B of them: every rank sees different text and the same number of steps.
    """

    def __init__(
        self,
        data: torch.Tensor,
        batch_size: int,
        bptt: int,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if bptt < 1:
            raise ValueError(f"bptt must be >= 1, got {bptt}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, num_replicas={num_replicas}), got {rank}")
        columns = batchify(data, batch_size * num_replicas)  # (N', B * R)
        self.source = columns[:, rank * batch_size : (rank + 1) * batch_size]  # (N', B)
        self.bptt = bptt

    def __len__(self) -> int:
        return max(0, -(-(len(self.source) - 1) // self.bptt))

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for i in range(0, len(self.source) - 1, self.bptt):
            data, target = get_batch(self.source, i, self.bptt)
            yield {
                "tokens": data.t().contiguous(),
                "targets": target.view(data.shape).t().contiguous(),
            }


def lm_batches(data: torch.Tensor, batch_size: int, bptt: int, **kw) -> LMBatches:
    """Re-iterable batch-first batches for the trainer (see `LMBatches`)."""
    return LMBatches(data, batch_size, bptt, **kw)


@dataclass
class LMData:
    """Train/valid/test token-id streams (1-D long tensors) and the vocabulary."""

    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    vocab: Vocab

    @property
    def num_types(self) -> int:
        """Distinct tokens of the training text (`<eos>`, `<unk>` included): the vocabulary less
        `<pad>`, which never occurs in a stream. 33,278 for WikiText-2."""
        return len(self.vocab) - 1


def line_tokens(lines: Sequence[str], tokenizer, lower: bool, sos: bool, eos: bool) -> list[str]:
    """Every line's tokens in order, each line framed by `<sos>`/`<eos>` as asked."""
    head, tail = ([SOS] if sos else []), ([EOS] if eos else [])
    out: list[str] = []
    for line in lines:
        out += head + tokenizer(line.lower() if lower else line) + tail
    return out


def load_lm_text(
    paths: dict[str, str | os.PathLike],
    *,
    tokenizer: str = "whitespace",
    lower: bool = False,
    sos: bool = False,
    eos: bool = True,
    min_freq: int = 1,
    max_size: int | None = None,
    cache: bool = True,
) -> LMData:
    """Plain-text files {"train", "valid", "test"} -> token streams, one `<eos>` per line.

    Like pytorch/examples' Corpus (and torchtext's Field(lower=..., init_token="<sos>",
    eos_token="<eos>") with `sos=True`): every line, empty ones included, adds its tokens then
    `<eos>`. The vocabulary is built on train only; unseen tokens map to `<unk>`. A file with
    no text is an error naming it. Long lines need no limit: training reads B x bptt tokens a
    step whatever the line lengths (`LMBatches`).
    """
    if "train" not in paths:
        raise SeqlabError("a train file is required")
    files = {k: Path(v) for k, v in paths.items()}
    tok = get_tokenizer(tokenizer)
    specials = [s for s, on in ((SOS, sos), (EOS, eos)) if on]
    settings = dict(tokenizer=tokenizer, lower=lower, sos=sos, eos=eos, min_freq=min_freq)

    def build() -> dict[str, np.ndarray]:
        tokens = {k: line_tokens(read_lines(p), tok, lower, sos, eos) for k, p in files.items()}
        vocab = Vocab.build(
            [tokens["train"]], min_freq=min_freq, max_size=max_size, specials=specials
        )
        arrays = {k: np.asarray(vocab.encode(t), dtype=np.int64) for k, t in tokens.items()}
        return arrays | {"vocab": json_array(vocab.to_dict())}

    parts = {"files": {k: file_identity(p) for k, p in files.items()}, "max_size": max_size}
    arrays = cached("lm", parts | settings, build, enabled=cache)
    vocab = Vocab.from_dict(from_json_array(arrays["vocab"]))
    framing = [vocab.stoi[s] for s in specials]
    for k, path in files.items():
        if not np.setdiff1d(arrays[k], framing).size:  # no token but <sos>/<eos>
            raise SeqlabError(f"{path}: no text (the {k} file is empty)")
    empty = torch.zeros(0, dtype=torch.long)
    streams = {
        k: torch.from_numpy(arrays[k]) if k in arrays else empty for k in ("train", "valid", "test")
    }
    return LMData(**streams, vocab=vocab)


def wikitext2_files(
    data_dir: str | os.PathLike | None = None, download: bool | None = None
) -> dict[str, Path]:
    """WikiText-2 split files: `{split}.txt` (pytorch/examples) or `wiki.{split}.tokens`."""
    base = resolve_data_dir(data_dir)
    for folder in (base / "wikitext-2", base / "wikitext-2-v1", base):
        for pattern in ("{}.txt", "wiki.{}.tokens"):
            found = {s: folder / pattern.format(s) for s in ("train", "valid", "test")}
            if all(p.is_file() for p in found.values()):
                return found
    try:
        return {
            s: find_file(f"wikitext-2/{s}.txt", data_dir, download=download)
            for s in ("train", "valid", "test")
        }
    except DataNotFoundError as e:
        raise DataNotFoundError(f"WikiText-2 not found in {base}: {e}") from e


def load_wikitext2(
    data_dir: str | os.PathLike | None = None, *, download: bool | None = None, **settings: Any
) -> LMData:
    """WikiText-2 (Merity et al., 2016) streams: 2,088,628 / 217,646 / 245,569 tokens.

    The other keywords (`lower`, `sos`, `eos`, `min_freq`, ...) are `load_lm_text`'s."""
    return load_lm_text(wikitext2_files(data_dir, download), **settings)
