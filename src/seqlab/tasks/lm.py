"""Language modelling: train on WikiText-2 or your text, evaluate perplexity, generate text.

`train` is what `seqlab train lm` runs. Recurrent models carry their state across consecutive
bptt windows (`seqlab.train.CarryState`); Transformers see each window on its own, as in the
PyTorch tutorial. Checkpoints hold the model config and the text encoder (tokenizer settings +
vocabulary), so `seqlab evaluate` and `seqlab generate` need nothing else.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqlab.atomic import write_text_atomic
from seqlab.data.lm import LMBatches, LMData, line_tokens, load_lm_text, wikitext2_files
from seqlab.data.readers import read_lines
from seqlab.data.text import TextEncoder
from seqlab.data.tokenizers import get_tokenizer
from seqlab.errors import CheckpointError, SeqlabError
from seqlab.models.language_model import LanguageModel, LanguageModelConfig
from seqlab.tasks import load_trained
from seqlab.tasks.configs import LMConfig
from seqlab.train import CarryState, Perplexity, TrainConfig, Trainer, evaluate, load_checkpoint
from seqlab.train.device import seed_everything, select_device
from seqlab.train.distributed import dist_info

TASK = "lm"
SPLITS = ("train", "valid", "test")


@dataclass
class LMResult:
    """What a training run produced."""

    model: LanguageModel
    data: LMData
    history: list[dict[str, Any]]
    test: dict[str, float]
    params: int
    train_wall_s: float


def split_files(cfg: LMConfig) -> dict[str, Path]:
    """{"train", "valid", "test"} files of the run's data (one file: its lines split 90:5:5)."""
    if cfg.data == "wikitext-2":
        return wikitext2_files(cfg.data_dir)
    parts = [Path(p) for p in cfg.data.split(",")]
    for p in parts:
        if not p.is_file():
            raise SeqlabError(
                f"{p}: no such file (give 'wikitext-2', FILE.txt or TRAIN,VALID,TEST)"
            )
    if len(parts) == 3:
        return dict(zip(SPLITS, parts, strict=True))
    if len(parts) == 1:
        return {"text": parts[0]}
    raise SeqlabError(f"--data takes one file or three (train,valid,test), got {len(parts)}")


def load_data(cfg: LMConfig) -> LMData:
    """Token-id streams of train/valid/test; the vocabulary is built on train."""
    files = split_files(cfg)
    settings = dict(
        tokenizer=cfg.tokenizer,
        lower=cfg.lower,
        sos=cfg.sos,
        min_freq=cfg.min_freq,
        max_size=cfg.max_vocab,
    )
    if "text" not in files:
        return load_lm_text(files, **settings)
    # One file: consecutive lines (not shuffled: a language model reads text in order) give the
    # first 90% to train, then 5% to valid and 5% to test.
    data = load_lm_text({"train": files["text"]}, **settings)
    whole, n = data.train, len(data.train)
    a, b = int(n * 0.9), int(n * 0.95)
    if n - b < 2:
        raise SeqlabError(f"{files['text']}: {n} tokens are too few to split into train/valid/test")
    return LMData(whole[:a], whole[a:b], whole[b:], data.vocab)


def text_encoder(cfg: LMConfig, data: LMData) -> TextEncoder:
    """The encoder of prompts and evaluation text: the run's tokenizer and vocabulary."""
    tok = get_tokenizer(cfg.tokenizer)
    return TextEncoder(tok, data.vocab, lowercase=cfg.lower, strip_html=False)


def build_model(cfg: LMConfig, vocab_size: int) -> LanguageModel:
    """A LanguageModel from the run's settings."""
    config = LanguageModelConfig(
        vocab_size=vocab_size,
        arch=cfg.model,
        embed_dim=cfg.embed,
        hidden_size=cfg.hidden,
        num_layers=cfg.layers,
        num_heads=cfg.heads,
        dropout=cfg.dropout,
        tie_weights=cfg.tie_weights,
        backend=cfg.backend,
        adaptive_cutoffs=list(cfg.adaptive) if cfg.adaptive else None,
    )
    try:
        return LanguageModel(config)
    except ValueError as e:
        raise SeqlabError(f"cannot build the {cfg.model} language model: {e}") from None


def batches(stream: torch.Tensor, batch_size: int, bptt: int) -> LMBatches:
    """bptt windows of `stream` in `batch_size` columns, sharded over DDP processes."""
    info = dist_info()
    return LMBatches(stream, batch_size, bptt, num_replicas=info.world_size, rank=info.rank)


def train(
    cfg: LMConfig,
    train_cfg: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
) -> LMResult:
    """Train a language model, evaluate it on test, write OUT/results.json and OUT/curves.png."""
    data = load_data(cfg)
    seed_everything(train_cfg.seed)
    model = build_model(cfg, len(data.vocab))
    meta = {
        "task": TASK,
        "data": dataclasses.asdict(cfg),
        "encoder": text_encoder(cfg, data).to_dict(),
    }
    trainer = Trainer(
        model,
        train_cfg,
        batches(data.train, train_cfg.batch_size, cfg.bptt),
        batches(data.valid, cfg.eval_batch_size, cfg.bptt) if len(data.valid) > 1 else None,
        metric=Perplexity(),
        out_dir=out_dir,
        meta=meta,
        forward=CarryState(),
    )
    params = sum(p.numel() for p in model.parameters())
    trainer.log(
        f"{cfg.model} language model, {params:,} parameters; vocabulary {len(data.vocab):,}; "
        f"{len(data.train):,} train / {len(data.valid):,} valid / {len(data.test):,} test tokens"
    )
    checkpoint = Path(out_dir) / "last.pt" if out_dir is not None else None
    start = None
    if resume and checkpoint is not None and checkpoint.is_file():
        saved = load_checkpoint(checkpoint, task=TASK)
        if saved.get("data") != meta["data"]:
            raise CheckpointError(
                f"{checkpoint} was trained with other data or model settings; "
                "use the original options or another --out"
            )
        start = checkpoint
    elif resume:
        trainer.log(f"--resume: no checkpoint at {checkpoint}; starting from scratch")
    history = trainer.fit(resume=start)
    wall = trainer.train_wall_s  # all of the run's training, resumptions included
    test = evaluate(
        model,
        batches(data.test, cfg.eval_batch_size, cfg.bptt),
        Perplexity(),
        trainer.device,
        forward=CarryState(),
        amp=train_cfg.amp,
        limit=train_cfg.limit_batches,
    )
    trainer.log(f"test loss {test['loss']:.4f}  test perplexity {test['perplexity']:.2f}")
    if out_dir is not None and trainer.dist.is_main:
        epochs_run = len(history) - (history[0]["epoch"] - 1 if history else 0)
        results = {
            "history": history,
            "test": test,
            "params": params,
            "train_wall_s": wall,
            "train_tokens": len(data.train),  # per epoch
            "tokens_per_s": len(data.train) * max(1, epochs_run) / wall if wall > 0 else None,
            "config": meta["data"],
            "train_config": train_cfg.to_dict(),
        }
        write_text_atomic(Path(out_dir) / "results.json", json.dumps(results, indent=1) + "\n")
        plot_curves(Path(out_dir) / "curves.png", history, test)
    return LMResult(model, data, history, test, params, wall)


def plot_curves(path: Path, history: list[dict[str, Any]], test: dict[str, float]) -> None:
    """Loss and perplexity per epoch (train, valid) with the final test value: one PNG."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key in zip(axes, ("loss", "perplexity"), strict=True):
        for split in ("train", "valid"):
            values = [r.get(f"{split}_{key}") for r in history]
            if all(v is not None for v in values) and values:
                ax.plot(epochs, values, marker="o", label=split)
        ax.axhline(test[key], color="gray", linestyle="--", label=f"test {test[key]:.2f}")
        ax.set(title=key, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def load_lm(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[LanguageModel, TextEncoder, dict[str, Any]]:
    """Model (eval mode), text encoder and raw state of an lm checkpoint."""
    return load_trained(path, TASK, device)


def encode_stream(path: Path, encoder: TextEncoder, sos: bool) -> torch.Tensor:
    """A text file as one token-id stream, line by line as in training, with `encoder`'s vocab."""
    tokens = line_tokens(read_lines(path), encoder.tokenizer, encoder.lowercase, sos, True)
    return torch.tensor(encoder.vocab.encode(tokens), dtype=torch.long)


def split_stream(cfg: LMConfig, encoder: TextEncoder, split: str) -> torch.Tensor:
    """The token ids of a split of the run's data, encoded with the checkpoint's vocabulary."""
    if split not in SPLITS:
        raise SeqlabError(f"unknown split {split!r} for a language model; choose {SPLITS}")
    files = split_files(cfg)
    if "text" in files:  # the one-file split of training (same file, same vocabulary)
        return getattr(load_data(cfg), split)
    return encode_stream(files[split], encoder, cfg.sos)


def evaluate_checkpoint(
    path: str | Path,
    *,
    data: str | None = None,
    data_dir: str | None = None,
    split: str = "test",
    batch_size: int | None = None,
    limit: int | float | None = None,
    limit_batches: int | None = None,
    device: str = "auto",
) -> dict[str, float]:
    """Loss and perplexity of a checkpoint on a split of its data (or of the text file `data`)."""
    if limit is not None:
        raise SeqlabError("--limit is for classification; use --dry-run for a quick check")
    dev = select_device(device)
    model, encoder, state = load_lm(path, dev)
    cfg = LMConfig(**state.get("data", {}))
    cfg = dataclasses.replace(cfg, data=data or cfg.data, data_dir=data_dir or cfg.data_dir)
    if data is not None and data != "wikitext-2" and "," not in data:
        stream = encode_stream(Path(data), encoder, cfg.sos)  # a whole file of new text
    else:
        stream = split_stream(cfg, encoder, split)
    loader = LMBatches(stream, batch_size or cfg.eval_batch_size, cfg.bptt)
    metrics = evaluate(model, loader, Perplexity(), dev, forward=CarryState(), limit=limit_batches)
    return {**metrics, "tokens": len(stream)}


def evaluate_with_cache(
    path: str | Path,
    *,
    window: int = 2000,
    theta: float | None = None,
    lam: float | None = None,
    split: str = "test",
    data_dir: str | None = None,
    batch_size: int | None = None,
) -> dict[str, float]:
    """Perplexity on `split` with the continuous cache (seqlab.models.neural_cache). Without
    `theta` and `lam` they are tuned on the validation split first."""
    from seqlab.models import neural_cache

    model, encoder, state = load_lm(path)
    cfg = LMConfig(**state.get("data", {}))
    cfg = dataclasses.replace(cfg, data_dir=data_dir or cfg.data_dir)

    evaluated = split_stream(cfg, encoder, split)  # a bad split fails before the tuning pass
    B = batch_size or cfg.eval_batch_size
    out: dict[str, float] = {"window": window}
    if theta is None or lam is None:
        valid_stream = split_stream(cfg, encoder, "valid")
        valid = neural_cache.cache_pass(model, valid_stream, B, cfg.bptt, window)
        theta, lam, ppl = neural_cache.tune(valid)
        out |= {
            "valid_perplexity_cache": ppl,
            "valid_perplexity": neural_cache.cache_perplexity(*valid, 1.0, 0.0),
        }
    tested = neural_cache.cache_pass(model, evaluated, B, cfg.bptt, window)
    out |= {
        "theta": theta,
        "lambda": lam,
        "perplexity": neural_cache.cache_perplexity(*tested, 1.0, 0.0),
        "perplexity_cache": neural_cache.cache_perplexity(*tested, theta, lam),
    }
    return out


def predict(path: str | Path, texts: list[str], device: str = "cpu") -> list[tuple[str, float]]:
    """Language models do not classify: `seqlab generate` continues a text instead."""
    raise SeqlabError(f"{path} is a language model; use `seqlab generate {path} --prompt TEXT`")


def generate_text(
    path: str | Path,
    *,
    prompt: str = "",
    words: int = 20,
    num: int = 3,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    cached: bool = True,
    device: str = "cpu",
) -> tuple[list[str], list[str]]:
    """`num` continuations of `prompt` (`words` new tokens each) and its unknown words.

    Without a prompt each text starts from a random word of the vocabulary (the course's
    `generate`), which counts as its first word.
    """
    from seqlab.decoding import generate

    if words < 1:
        raise SeqlabError(f"--words must be at least 1, got {words}")
    if num < 1:
        raise SeqlabError(f"--num must be at least 1, got {num}")
    model, encoder, _ = load_lm(path, device)
    vocab = encoder.vocab
    generator = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
    tokens = encoder.tokenize(prompt) if prompt.strip() else []
    unknown = [t for t in tokens if t not in vocab.stoi]
    if tokens:
        start = torch.tensor([vocab.encode(tokens)] * num, dtype=torch.long)  # (num, T)
        new = words
    else:
        # Specials (<pad>, <unk>, <sos>, <eos>) are never drawn as the first word.
        first = [i for i, t in enumerate(vocab.itos) if not (t.startswith("<") and t.endswith(">"))]
        pick = torch.randint(len(first), (num, 1), generator=generator)
        start = torch.tensor(first)[pick]  # (num, 1)
        new = words - 1
    try:
        out = generate(
            model,
            start.to(device),
            new,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            generator=generator,
            cached=cached,
        )
    except ValueError as e:  # e.g. past the positional table, or a bad top-p
        raise SeqlabError(f"cannot generate: {e}") from None
    texts = [" ".join(encoder.words([vocab.itos[int(i)] for i in row])) for row in out.cpu()]
    return texts, unknown
