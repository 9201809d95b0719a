"""Machine translation: train seq2seq or Transformer models, decode, score with BLEU.

`train` is what `seqlab train translate` runs. Every model follows the decoding contract of
`seqlab.decoding` (`encode`, then `decode(tgt_in, memory, state)`), so greedy and beam search
are the same code for all of them. Two BLEU scores are reported (docs/translate.md):
`bleu`, sacreBLEU on detokenized output against the raw references, and `bleu_tokenized`, the
corpus BLEU of lower-cased tokens that the public tutorials report.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import torch

from seqlab import report
from seqlab.atomic import write_text_atomic
from seqlab.data.readers import read_lines
from seqlab.data.text import TextEncoder
from seqlab.data.translation import (
    SPLITS,
    TranslationData,
    TranslationDataset,
    limited_rows,
    load_parallel,
    multi30k_files,
    translation_collate,
)
from seqlab.decoding import beam_search, greedy_decode
from seqlab.errors import CheckpointError, SeqlabError
from seqlab.models import (
    CompactTranslator,
    CompactTranslatorConfig,
    Seq2Seq,
    Seq2SeqConfig,
    TransformerTranslator,
    TransformerTranslatorConfig,
)
from seqlab.tasks import load_trained
from seqlab.tasks.classify import make_loader
from seqlab.tasks.configs import TranslateConfig
from seqlab.train import Callback, Perplexity, TrainConfig, Trainer, evaluate, load_checkpoint
from seqlab.train.device import seed_everything, select_device

TASK = "translate"
# Settings that only change how translations are decoded: a resumed run may change them.
DECODING = ("beam", "length_penalty", "max_decode", "allow_unk", "valid_bleu")


def split_files(cfg: TranslateConfig) -> dict[str, tuple[Path, Path]]:
    """{"train": (src, tgt), "valid": ..., "test": ...} files of the run's data."""
    if cfg.data == "multi30k":
        return multi30k_files(cfg.data_dir, cfg.src_lang, cfg.tgt_lang)
    parts = [Path(p) for p in cfg.data.split(",")]
    if len(parts) not in (2, 6):
        raise SeqlabError(
            "--data takes 'multi30k', TRAIN.src,TRAIN.tgt or six files "
            f"(train, valid, test pairs), got {len(parts)}"
        )
    for p in parts:
        if not p.is_file():
            raise SeqlabError(f"{p}: no such file")
    return {s: (parts[2 * i], parts[2 * i + 1]) for i, s in enumerate(SPLITS[: len(parts) // 2])}


def load_data(cfg: TranslateConfig, seed: int = 0) -> TranslationData:
    """Encoded pairs of every split; one vocabulary per language (or one shared), built on
    train."""
    options = None
    if cfg.tokenizer == "spacy":
        options = ({"language": cfg.src_lang}, {"language": cfg.tgt_lang})
    return load_parallel(
        split_files(cfg),
        tokenizer=cfg.tokenizer,
        tokenizer_options=options,
        lowercase=cfg.lower,
        min_freq=cfg.min_freq,
        max_size=cfg.max_vocab,
        shared=cfg.shared_vocab,
        limit=cfg.limit,
        seed=seed,
    )


def build_model(cfg: TranslateConfig, src_vocab: int, tgt_vocab: int) -> torch.nn.Module:
    """A Seq2Seq, TransformerTranslator or CompactTranslator from the run's settings."""
    if not 0.0 <= cfg.label_smoothing < 1.0:
        raise SeqlabError(f"--label-smoothing must be in [0, 1), got {cfg.label_smoothing}")
    try:
        if cfg.model == "seq2seq":
            attention = None if cfg.attention in (None, "none") else cfg.attention
            return Seq2Seq(
                Seq2SeqConfig(
                    src_vocab,
                    tgt_vocab,
                    cfg.cell,
                    cfg.embed,
                    cfg.hidden,
                    cfg.layers,
                    attention,
                    cfg.dropout,
                    cfg.teacher_forcing,
                    cfg.backend,
                    cfg.label_smoothing,
                )  # fmt: skip
            )
        if cfg.model == "transformer":
            return TransformerTranslator(
                TransformerTranslatorConfig(
                    src_vocab,
                    tgt_vocab,
                    cfg.embed,
                    cfg.heads,
                    cfg.hidden,
                    cfg.layers,
                    cfg.layers,
                    cfg.dropout,
                    backend=cfg.backend,
                    label_smoothing=cfg.label_smoothing,
                )  # fmt: skip
            )
        if cfg.model == "compact":
            return CompactTranslator(
                CompactTranslatorConfig(
                    src_vocab,
                    tgt_vocab,
                    cfg.embed,
                    cfg.heads,
                    cfg.hidden,
                    cfg.layers,
                    cfg.dropout,
                    backend=cfg.backend,
                    label_smoothing=cfg.label_smoothing,
                )  # fmt: skip
            )
    except ValueError as e:
        raise SeqlabError(f"cannot build the {cfg.model} model: {e}") from None
    raise SeqlabError(f"unknown model {cfg.model!r}; choose seq2seq, transformer or compact")


# -- decoding and BLEU ----------------------------------------------------------------------------
_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}]|'s|'re|'ve|'ll|'d|'m|n't)(?= |$)")
_NO_SPACE_AFTER = re.compile(r"([(\[{]) ")


def detokenize(tokens: list[str]) -> str:
    """Tokens -> text: no space before closing punctuation and clitics ("man 's ." -> "man's.")."""
    text = " ".join(tokens)
    return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))


def check_settings(cfg: TranslateConfig) -> None:
    """SeqlabError for settings that cannot work: a beam width or maximum translation length
    below 1, a shared vocabulary with per-language (spaCy) tokenizers."""
    if cfg.beam < 1 or cfg.max_decode < 1:
        raise SeqlabError(
            f"beam width and maximum length must be >= 1, got {cfg.beam} and {cfg.max_decode}"
        )
    if cfg.shared_vocab and cfg.tokenizer == "spacy":
        raise SeqlabError(
            "--shared-vocab needs one tokenizer for both languages; spaCy's are per language"
        )


@torch.no_grad()
def translate_ids(
    model: torch.nn.Module,
    sources: list[list[int]],
    tgt_encoder: TextEncoder,
    cfg: TranslateConfig,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
    *,
    as_words: bool = True,
) -> list[list[str]]:
    """The translation of each source (ids wrapped in <sos> ... <eos>): its words, BPE pieces
    joined (or, with `as_words=False`, the model's own tokens), no <sos>/<eos>."""
    check_settings(cfg)
    vocab = tgt_encoder.vocab
    sos, eos = vocab.sos_id, vocab.eos_id
    # Padding and <sos> are never a next word; <unk> only where asked for.
    banned = [vocab.pad_id, sos] + ([] if cfg.allow_unk else [vocab.unk_id])
    was_training = model.training
    model.eval()
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))  # similar lengths
    out: list[list[str]] = [[] for _ in sources]
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = translation_collate([{"src": sources[i], "tgt": [sos, eos]} for i in chunk])
            src, lengths = batch["src"].to(device), batch["src_lengths"].to(device)
            if cfg.beam > 1:
                rows = beam_search(
                    model, src, lengths, sos, eos, cfg.max_decode, cfg.beam, cfg.length_penalty,
                    banned,
                )  # fmt: skip
            else:
                rows = greedy_decode(model, src, lengths, sos, eos, cfg.max_decode, banned)
                rows = rows.tolist()
            for i, row in zip(chunk, rows, strict=True):
                words = []
                for token in row:
                    if token == eos:
                        break
                    if token != 0:
                        words.append(vocab.itos[token])
                out[i] = tgt_encoder.words(words) if as_words else words
    finally:
        model.train(was_training)
    return out


def bleu_scores(
    hypotheses: list[list[str]], references: list[str], tgt_encoder: TextEncoder
) -> dict[str, float]:
    """sacreBLEU of detokenized hypotheses against the raw references (case-insensitive when
    the model is lower-cased), and the tokenized lower-cased corpus BLEU of the tutorials."""
    import sacrebleu

    lower = tgt_encoder.lowercase
    detok = [detokenize(h) for h in hypotheses]
    bleu = sacrebleu.corpus_bleu(detok, [references], lowercase=lower).score
    ref_tokens = [" ".join(tgt_encoder.words(tgt_encoder.tokenize(r))).lower() for r in references]
    hyp_tokens = [" ".join(h).lower() for h in hypotheses]
    tokenized = sacrebleu.corpus_bleu(hyp_tokens, [ref_tokens], tokenize="none", force=True).score
    return {"bleu": bleu, "bleu_tokenized": tokenized}


def split_sources(dataset: TranslationDataset) -> list[list[int]]:
    """The source ids (<sos> ... <eos>) of every pair of a split."""
    return [dataset[i]["src"].tolist() for i in range(len(dataset))]


class ValidBleu(Callback):
    """Decodes the validation split after every epoch and adds "valid_bleu" (tokenized BLEU)
    to the record, before the Trainer picks the best epoch (`--monitor valid_bleu`)."""

    def __init__(self, sources, references, tgt_encoder, cfg, device) -> None:
        self.sources, self.references = sources, references
        self.tgt_encoder, self.cfg, self.device = tgt_encoder, cfg, device

    def on_validation(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """Greedy-decode the validation sources and score them."""
        greedy = dataclasses.replace(self.cfg, beam=1)
        hyps = translate_ids(trainer.model, self.sources, self.tgt_encoder, greedy, self.device)
        record["valid_bleu"] = bleu_scores(hyps, self.references, self.tgt_encoder)[
            "bleu_tokenized"
        ]


def train(
    cfg: TranslateConfig,
    train_cfg: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
) -> dict[str, Any]:
    """Train a translation model, decode the test split, write OUT/results.json and
    OUT/test-translations.txt; returns the results."""
    check_settings(cfg)  # before hours of training, not after
    data = load_data(cfg, train_cfg.seed)
    files = split_files(cfg)
    seed_everything(train_cfg.seed)
    model = build_model(cfg, len(data.src_vocab), len(data.tgt_vocab))
    meta = {
        "task": TASK,
        "data": dataclasses.asdict(cfg),
        "encoder": data.src_encoder.to_dict(),
        "tgt_encoder": data.tgt_encoder.to_dict(),
    }
    b, seed = train_cfg.batch_size, train_cfg.seed
    callbacks = []
    has_valid = len(data.valid) > 0
    if has_valid and cfg.valid_bleu:
        references = _references(files, "valid", cfg.limit, train_cfg.seed)
        device = select_device(train_cfg.device)
        callbacks.append(
            ValidBleu(split_sources(data.valid), references, data.tgt_encoder, cfg, device)
        )
    trainer = Trainer(
        model,
        train_cfg,
        make_loader(data.train, b, shuffle=True, seed=seed, collate=translation_collate),
        make_loader(data.valid, b, shuffle=False, collate=translation_collate)
        if has_valid
        else None,
        metric=Perplexity("tgt", offset=1),
        out_dir=out_dir,
        meta=meta,
        callbacks=callbacks,
    )
    params = sum(p.numel() for p in model.parameters())
    trainer.log(
        f"{type(model).__name__}, {params:,} parameters; vocabularies {len(data.src_vocab):,} / "
        f"{len(data.tgt_vocab):,}; {len(data.train):,} train / {len(data.valid):,} valid / "
        f"{len(data.test):,} test pairs"
    )
    checkpoint = Path(out_dir) / "last.pt" if out_dir is not None else None
    start = None
    if resume and checkpoint is not None and checkpoint.is_file():
        saved = saved_config(load_checkpoint(checkpoint, task=TASK), checkpoint)
        changed = [
            f.name
            for f in dataclasses.fields(cfg)
            if f.name not in DECODING and getattr(saved, f.name) != getattr(cfg, f.name)
        ]
        if changed:
            raise CheckpointError(
                f"{checkpoint} was trained with other data or model settings "
                f"({', '.join(changed)}); use the original options or another --out"
            )
        start = checkpoint
    elif resume:
        trainer.log(f"--resume: no checkpoint at {checkpoint}; starting from scratch")
    history = trainer.fit(resume=start)
    wall = trainer.train_wall_s  # all of the run's training, resumptions included
    results: dict[str, Any] = {"history": history, "params": params, "train_wall_s": wall}
    if len(data.test):
        test = _score_split(model, data, files, "test", cfg, train_cfg, trainer.device)
        trainer.log(
            f"test perplexity (teacher-forced) {test['perplexity']:.2f}  BLEU {test['bleu']:.2f}"
            f"  tokenized BLEU {test['bleu_tokenized']:.2f}"
        )
        translations = test.pop("translations")
        results["test"] = test
        if out_dir is not None and trainer.dist.is_main:
            text = "".join(line + "\n" for line in translations)
            write_text_atomic(Path(out_dir) / "test-translations.txt", text)
    if out_dir is not None and trainer.dist.is_main:
        results |= {"config": meta["data"], "train_config": train_cfg.to_dict()}
        write_text_atomic(Path(out_dir) / "results.json", json.dumps(results, indent=1) + "\n")
    return results


def _references(files, split: str, limit: int | None, seed: int) -> list[str]:
    """The raw target sentences of a split, in the order of the encoded pairs."""
    lines = read_lines(files[split][1])
    return [lines[i] for i in limited_rows(len(lines), limit, seed)]  # load_parallel's subset


def _score_split(model, data, files, split, cfg, train_cfg, device) -> dict[str, Any]:
    """Teacher-forced perplexity, BLEU and the translations of a split."""
    dataset = getattr(data, split)
    loader = make_loader(dataset, 128, shuffle=False, collate=translation_collate)
    metrics = evaluate(
        model, loader, Perplexity("tgt", offset=1), device, limit=train_cfg.limit_batches
    )
    hyps = translate_ids(model, split_sources(dataset), data.tgt_encoder, cfg, device)
    references = _references(files, split, cfg.limit, train_cfg.seed)
    return {
        **metrics,
        **bleu_scores(hyps, references, data.tgt_encoder),
        "translations": [detokenize(h) for h in hyps],
    }


def load_translator(path, device="cpu"):
    """Model (eval mode), source and target encoders and raw state of a translate checkpoint."""
    model, src_encoder, state = load_trained(path, TASK, device)
    try:
        tgt_encoder = TextEncoder.from_dict(state["tgt_encoder"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: its target encoder cannot be rebuilt ({e})") from None
    return model, src_encoder, tgt_encoder, state


def saved_config(state: dict[str, Any], path: str | Path) -> TranslateConfig:
    """The TranslateConfig stored in a checkpoint; settings added since it was written take
    their defaults, and settings this version does not know are a clear error."""
    saved = state.get("data", {})
    unknown = sorted(set(saved) - {f.name for f in dataclasses.fields(TranslateConfig)})
    if unknown:
        raise CheckpointError(
            f"{path}: settings this version of seqlab does not know ({', '.join(unknown)}); "
            "was it written by another version?"
        )
    return TranslateConfig(**saved)


def overridden(cfg: TranslateConfig, **settings: Any) -> TranslateConfig:
    """`cfg` with each of `settings` that is not None (a checkpoint's settings, overridden by
    the options a user gave)."""
    return dataclasses.replace(cfg, **{k: v for k, v in settings.items() if v is not None})


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
    beam: int | None = None,
    length_penalty: float | None = None,
    allow_unk: bool | None = None,
) -> dict[str, Any]:
    """Teacher-forced perplexity and BLEU of a checkpoint on a split, decoded with `beam`
    (default: as trained; 1 = greedy) and `allow_unk` (default: as trained); the translations
    are written beside it (SPLIT-translations.txt)."""
    if split not in SPLITS:
        raise SeqlabError(f"unknown split {split!r} for translation; choose {SPLITS}")
    dev = select_device(device)
    model, _, tgt_encoder, state = load_translator(path, dev)
    cfg = overridden(
        saved_config(state, path),
        data=data or None,
        data_dir=data_dir or None,
        beam=beam,
        length_penalty=length_penalty,
        allow_unk=allow_unk,
    )
    if limit is not None:
        cfg.limit = int(limit)
    train_cfg = TrainConfig(limit_batches=limit_batches)
    seed = state.get("train_config", {}).get("seed", 0)
    loaded = load_data(cfg, seed)
    if len(loaded.tgt_vocab) != len(tgt_encoder.vocab):
        raise SeqlabError(f"{path}: the data's vocabulary differs from the checkpoint's")
    scores = _score_split(model, loaded, split_files(cfg), split, cfg, train_cfg, dev)
    out = Path(path).parent / f"{split}-translations.txt"
    write_text_atomic(out, "".join(line + "\n" for line in scores.pop("translations")))
    return {**scores, "examples": len(getattr(loaded, split))}


def translate_texts(
    path: str | Path,
    texts: list[str],
    *,
    beam: int | None = None,
    length_penalty: float | None = None,
    max_length: int | None = None,
    allow_unk: bool | None = None,
    device: str = "cpu",
    plot_attention: str | Path | None = None,
) -> tuple[list[str], list[str]]:
    """Translations of raw sentences (empty lines stay empty) and notes on the input; decoding
    settings left None are as trained.

    `plot_attention` draws the source-target attention of the first sentence to that PNG."""
    model, src_encoder, tgt_encoder, state = load_translator(path, device)
    cfg = overridden(
        saved_config(state, path),
        beam=beam,
        length_penalty=length_penalty,
        max_decode=max_length,
        allow_unk=allow_unk,
    )
    if plot_attention is not None:
        has_attention(model)  # before any work
    notes: list[str] = []
    limit = getattr(model.config, "max_length", None)
    vocab = src_encoder.vocab
    sources, keep, words_read = [], [], []
    for i, text in enumerate(texts):
        tokens = src_encoder.tokenize(text)
        if not tokens:
            continue
        unknown = sorted({t for t in tokens if t not in vocab.stoi})
        if unknown:
            notes.append(
                f"line {i + 1}: not in the vocabulary, read as <unk>: {', '.join(unknown)}"
            )
        if limit is not None and len(tokens) + 2 > limit:
            notes.append(f"line {i + 1}: {len(tokens)} tokens, cut to the model's {limit - 2}")
            tokens = tokens[: limit - 2]
        sources.append([vocab.sos_id, *vocab.encode(tokens), vocab.eos_id])
        keep.append(i)
        words_read.append(tokens)
    out = [""] * len(texts)
    translations = translate_ids(model, sources, tgt_encoder, cfg, device, as_words=False)
    for i, tokens in zip(keep, translations, strict=True):
        out[i] = detokenize(tgt_encoder.words(tokens))
    if plot_attention is not None and sources:  # one row per token the model produced
        vocab = tgt_encoder.vocab
        weights = attention_weights(model, sources[0], vocab.encode(translations[0]), vocab.sos_id)
        source = ["<sos>", *words_read[0], "<eos>"]
        report.plot_attention(
            Path(plot_attention), weights, source, [*translations[0], "<eos>"], out[keep[0]]
        )
        if len(sources) > 1:
            notes.append(f"--plot-attention: drew line {keep[0] + 1}, the first sentence")
    return out, notes


@torch.no_grad()
def attention_weights(
    model: torch.nn.Module, source: list[int], target: list[int], sos_id: int
) -> list[list[float]]:
    """Source-target attention (T + 1 rows, one per output word and <eos>; S columns) of the
    model reading `target` (ids, no <sos>/<eos>) after the source ids (<sos> ... <eos>)."""
    has_attention(model)
    device = next(model.parameters()).device
    src = torch.tensor([source], device=device)
    tgt_in = torch.tensor([[sos_id, *target]], device=device)
    memory = model.encode(src, torch.tensor([len(source)], device=device))
    return model.decode_with_attention(tgt_in, memory)[2][0].tolist()


def has_attention(model: torch.nn.Module) -> None:
    """SeqlabError unless the model has source-target attention weights to show."""
    if not hasattr(model, "decode_with_attention"):
        raise SeqlabError(f"a {type(model).__name__} has no source-target attention to plot")
    if getattr(model.config, "attention", "") is None:
        raise SeqlabError("this model was trained without attention (--attention none)")


def predict(path: str | Path, texts: list[str], device: str = "cpu") -> list[tuple[str, float]]:
    """Translation models do not classify: `seqlab translate` translates."""
    raise SeqlabError(f"{path} is a translation model; use `seqlab translate {path} TEXT`")
