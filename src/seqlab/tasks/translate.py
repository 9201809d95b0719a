"""Machine translation: train seq2seq or Transformer models, decode, score with BLEU.

Every model follows the decoding contract of `seqlab.decoding` (`encode`, then `decode(tgt_in,
memory, state)`), so greedy and beam search are the same code for all of them. Two BLEU scores
are reported (docs/translate.md, `seqlab.train.metrics.bleu_scores`): `bleu`, sacreBLEU on
detokenized output against the raw references, and `bleu_tokenized`, the corpus BLEU of
lower-cased tokens that the public tutorials report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from seqlab import report
from seqlab.atomic import write_text_atomic
from seqlab.data.readers import read_lines
from seqlab.data.translation import (
    SPLITS,
    TranslationData,
    limited_rows,
    load_parallel,
    multi30k_files,
    translation_collate,
)
from seqlab.decoding import beam_candidates, length_penalty
from seqlab.errors import SeqlabError
from seqlab.explain import attention_maps, check_tokens, record
from seqlab.models import translator
from seqlab.tasks.base import Loaded, Task, make_loader, split_sizes
from seqlab.tasks.configs import TranslateRun
from seqlab.train import Callback, Metric, Perplexity, Trainer, evaluate
from seqlab.train.metrics import bleu_scores, detokenize
from seqlab.translation import (
    attention_weights,
    banned_ids,
    check_decoding,
    has_attention,
    search,
    split_sources,
    translate_ids,
    translation_scores,
)


def split_files(data: Any) -> dict[str, tuple[Path, Path]]:
    """{"train": (src, tgt), "valid": ..., "test": ...} files of a data section."""
    if data.source == "multi30k":
        return multi30k_files(data.data_dir, data.src_lang, data.tgt_lang)
    parts = [Path(p) for p in data.source.split(",")]
    if len(parts) not in (2, 6):
        raise SeqlabError(
            "--data takes 'multi30k', TRAIN.src,TRAIN.tgt or six files "
            f"(train, valid, test pairs), got {len(parts)}"
        )
    for p in parts:
        if not p.is_file():
            raise SeqlabError(f"{p}: no such file")
    return {s: (parts[2 * i], parts[2 * i + 1]) for i, s in enumerate(SPLITS[: len(parts) // 2])}


def load_data(data: Any, seed: int = 0) -> TranslationData:
    """Encoded pairs of every split; one vocabulary per language (or one shared), built on
    train."""
    options = None
    if data.tokenizer == "spacy":
        options = ({"language": data.src_lang}, {"language": data.tgt_lang})
    return load_parallel(
        split_files(data),
        tokenizer=data.tokenizer,
        tokenizer_options=options,
        lowercase=data.lower,
        min_freq=data.min_freq,
        max_size=data.max_vocab,
        shared=data.shared_vocab,
        limit=data.limit,
        seed=seed,
    )


def references(data: Any, split: str, seed: int) -> list[str]:
    """The raw target sentences of a split, in the order of the encoded pairs."""
    lines = read_lines(split_files(data)[split][1])
    return [lines[i] for i in limited_rows(len(lines), data.limit, seed)]  # load_parallel's subset


class ValidBleu(Callback):
    """Greedy-decodes the validation split after every epoch and adds "valid_bleu" (tokenized
    BLEU) to the record, before the Trainer picks the best epoch (`--monitor valid_bleu`)."""

    def __init__(self, sources, references, tgt_encoder, decode) -> None:
        self.sources, self.references = sources, references
        self.tgt_encoder, self.decode = tgt_encoder, decode

    def on_validation(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """Greedy-decode the validation sources and score them."""
        greedy = dataclasses.replace(self.decode, beam=1)
        # On the Trainer's device: under torchrun with GPUs, each rank's own.
        hyps = translate_ids(trainer.model, self.sources, self.tgt_encoder, greedy, trainer.device)
        scores = bleu_scores(hyps, self.references, self.tgt_encoder)
        record["valid_bleu"] = scores["bleu_tokenized"]


def score_split(model, data: TranslationData, split: str, run: Any, device, limit_batches):
    """Teacher-forced perplexity, BLEU and the detokenized translations of a split."""
    dataset = getattr(data, split)
    loader = make_loader(dataset, 128, shuffle=False, collate=translation_collate)
    metrics = evaluate(model, loader, Perplexity("tgt", offset=1), device, limit=limit_batches)
    hyps = translate_ids(model, split_sources(dataset), data.tgt_encoder, run.decode, device)
    refs = references(run.data, split, run.train.seed)
    return {
        **metrics,
        **bleu_scores(hyps, refs, data.tgt_encoder),
        "translations": [detokenize(h) for h in hyps],
    }


class Translate(Task):
    """`seqlab train translate`: source sentences in, target sentences out."""

    name = "translate"
    run_class = TranslateRun
    encoder_keys = ("encoder", "tgt_encoder")
    splits = SPLITS
    use = "seqlab translate CHECKPOINT TEXT"
    evaluate_options = ("beam", "length_penalty", "allow_unk")
    subset_fields = ("limit",)

    def check(self, run: TranslateRun) -> None:
        # Ranges (beam, label smoothing, ...) are the fields' rules, checked as the run is read.
        if run.data.shared_vocab and run.data.tokenizer == "spacy":
            raise SeqlabError(
                "--shared-vocab needs one tokenizer for both languages; spaCy's are per language"
            )

    def load_data(self, run: TranslateRun) -> TranslationData:
        return load_data(run.data, run.train.seed)

    size_names = ("src_vocab_size", "tgt_vocab_size")

    def sizes(self, data: TranslationData) -> dict[str, int]:
        return {"src_vocab_size": len(data.src_vocab), "tgt_vocab_size": len(data.tgt_vocab)}

    def make_model(self, run: TranslateRun, **sizes: int) -> torch.nn.Module:
        settings = dataclasses.asdict(run.model)
        if settings["attention"] == "none":
            settings["attention"] = None
        try:
            return translator(settings.pop("arch"), **sizes, **settings)
        except ValueError as e:
            raise SeqlabError(f"cannot build the {run.model.arch} model: {e}") from None

    def saved_state(self, run: TranslateRun, data: TranslationData) -> dict[str, Any]:
        return {"encoder": data.src_encoder.to_dict(), "tgt_encoder": data.tgt_encoder.to_dict()}

    def loaders(self, run: TranslateRun, data: TranslationData) -> tuple[Any, Any | None]:
        b, seed = run.train.batch_size, run.train.seed
        train = make_loader(data.train, b, shuffle=True, seed=seed, collate=translation_collate)
        if not len(data.valid):
            return train, None
        return train, make_loader(data.valid, b, shuffle=False, collate=translation_collate)

    def metric(self) -> Metric:
        return Perplexity("tgt", offset=1)

    def callbacks(self, run: TranslateRun, data: TranslationData) -> list[Callback]:
        if not (len(data.valid) and run.decode.valid_bleu):
            return []
        refs = references(run.data, "valid", run.train.seed)
        return [ValidBleu(split_sources(data.valid), refs, data.tgt_encoder, run.decode)]

    def describe(self, run: TranslateRun, data: TranslationData, model: Any, params: int) -> str:
        return (
            f"{type(model).__name__}, {params:,} parameters; vocabularies "
            f"{len(data.src_vocab):,} / {len(data.tgt_vocab):,}; {split_sizes(data, 'pairs')}"
        )

    def test(self, run: TranslateRun, data: TranslationData, trainer: Trainer) -> tuple:
        if not len(data.test):  # two files: train only, so no test figures (load_parallel)
            trainer.log("no test split (give six files for one): no test figures")
            return None, {}
        limit = run.train.limit_batches
        test = score_split(trainer.model, data, "test", run, trainer.device, limit)
        trainer.log(
            f"test perplexity (teacher-forced) {test['perplexity']:.2f}  BLEU {test['bleu']:.2f}"
            f"  tokenized BLEU {test['bleu_tokenized']:.2f}"
        )
        text = "".join(line + "\n" for line in test.pop("translations"))
        return test, {"test-translations.txt": text}

    def score(self, loaded: Loaded, run: TranslateRun, split: str, batch_size: Any, limit: Any):
        """Teacher-forced perplexity and BLEU on a split, decoded as `run.decode` says; the
        translations are written beside the checkpoint (SPLIT-translations.txt)."""
        pairs = load_data(run.data, run.train.seed)
        if not len(getattr(pairs, split)):  # load_parallel refuses empty files: none given
            raise SeqlabError(
                f"the data {run.data.source} has no {split} split; give --data with six files "
                "(train, valid and test pairs)"
            )
        if len(pairs.tgt_vocab) != len(loaded.encoders["tgt_encoder"].vocab):
            raise SeqlabError(f"{loaded.path}: the data's vocabulary differs from the checkpoint's")
        scores = score_split(loaded.model, pairs, split, run, loaded.device, limit)
        out = loaded.path.parent / f"{split}-translations.txt"
        write_text_atomic(out, "".join(line + "\n" for line in scores.pop("translations")))
        return {**scores, "examples": len(getattr(pairs, split))}

    def _sources(self, loaded: Loaded, texts: list[str]) -> tuple[list, list, list, list]:
        """What the model reads of raw sentences: (source ids with <sos>/<eos>, the index of
        each non-empty text, its tokens as read (cut to the model's positions), notes)."""
        limit = getattr(loaded.model.config, "max_length", None)
        vocab = loaded.encoder.vocab
        sources, keep, words_read, notes = [], [], [], []
        for i, text in enumerate(texts):
            tokens = loaded.encoder.tokenize(text)
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
        return sources, keep, words_read, notes

    def input_notes(self, loaded: Loaded, texts: list[str]) -> list[str]:
        """The notes `translate` gives on `texts` (unknown words, cut lines), without
        translating them."""
        return self._sources(loaded, texts)[3]

    def translate(
        self,
        loaded: Loaded,
        texts: list[str],
        *,
        plot_attention: str | Path | None = None,
        **decode: Any,
    ) -> tuple[list[str], list[str]]:
        """Translations of raw sentences (empty lines stay empty) and notes on the input;
        decoding settings (beam, length_penalty, max_decode, allow_unk) left None are as
        trained. `plot_attention` draws the source-target attention of the first sentence."""
        run = self.with_decoding(loaded.run, **decode)
        model = loaded.model
        tgt_encoder = loaded.encoders["tgt_encoder"]
        if plot_attention is not None:
            has_attention(model)  # before any work
        sources, keep, words_read, notes = self._sources(loaded, texts)
        out = [""] * len(texts)
        translations = translate_ids(
            model, sources, tgt_encoder, run.decode, loaded.device, as_words=False
        )
        for i, tokens in zip(keep, translations, strict=True):
            out[i] = detokenize(tgt_encoder.words(tokens))
        if plot_attention is not None and sources:  # one row per token the model produced
            tgt_vocab = tgt_encoder.vocab
            target = tgt_vocab.encode(translations[0])
            weights = attention_weights(model, sources[0], target, tgt_vocab.sos_id)
            source = ["<sos>", *words_read[0], "<eos>"]
            report.plot_attention(
                Path(plot_attention), weights, source, [*translations[0], "<eos>"], out[keep[0]]
            )
            if len(sources) > 1:
                notes.append(f"--plot-attention: drew line {keep[0] + 1}, the first sentence")
        return out, notes

    def translate_with_scores(
        self, loaded: Loaded, texts: list[str], **decode: Any
    ) -> tuple[list[str], list[float], list[str]]:
        """`translate`, with the natural-log probability of each translation under the model
        (`seqlab.translation.translation_scores`: its tokens and <eos>; 0 for an empty text,
        which is not translated)."""
        run = self.with_decoding(loaded.run, **decode)
        sources, keep, _, notes = self._sources(loaded, texts)
        tgt_encoder = loaded.encoders["tgt_encoder"]
        vocab = tgt_encoder.vocab
        rows = search(loaded.model, sources, vocab, run.decode, loaded.device)
        logps = translation_scores(
            loaded.model, sources, rows, vocab, run.decode.allow_unk, loaded.device
        )
        out, scores = [""] * len(texts), [0.0] * len(texts)
        for i, row, logp in zip(keep, rows, logps, strict=True):
            out[i] = self._text(tgt_encoder, row)
            scores[i] = logp
        return out, scores, notes

    @staticmethod
    def _text(tgt_encoder: Any, row: list[int]) -> str:
        """A searched row of target ids as text (as `translate` writes it)."""
        vocab = tgt_encoder.vocab
        return detokenize(tgt_encoder.words([vocab.itos[t] for t in row if t != vocab.eos_id]))

    def explain(
        self, loaded: Loaded, text: str, *, max_tokens: int | None = None, **decode: Any
    ) -> dict[str, Any]:
        """The translation of one sentence explained: the tokens the model read and wrote, the
        final beam (greedy: the one translation) with log-probabilities and length-penalised
        scores, best first, and the attention maps of the chosen translation read by teacher
        forcing (encoder self, decoder self and cross; queries of the decoder's maps are its
        inputs, <sos> and the words, so row t predicts target_tokens[t]). target_tokens ends
        with <eos> only where the translation did, not where it was cut at max_decode: one map
        row per token the model produced. `max_tokens` bounds the source and the translation
        (TooManyTokens)."""
        run = self.with_decoding(loaded.run, **decode)
        check_decoding(run.decode)
        sources, _, words_read, _ = self._sources(loaded, [text])
        if not sources:  # an empty text is not translated
            return {"source_tokens": [], "target_tokens": [], "candidates": [], "attention": []}
        source_tokens = ["<sos>", *words_read[0], "<eos>"]
        check_tokens("source", len(source_tokens), max_tokens)
        model, d = loaded.model, run.decode
        tgt_encoder = loaded.encoders["tgt_encoder"]
        vocab = tgt_encoder.vocab
        src = torch.tensor(sources, device=loaded.device)
        lengths = torch.tensor([src.size(1)], device=loaded.device)
        if d.beam > 1:
            sos, eos, banned = vocab.sos_id, vocab.eos_id, banned_ids(vocab, d.allow_unk)
            found = beam_candidates(
                model, src, lengths, sos, eos, d.max_decode, d.beam, d.length_penalty, banned
            )[0]
            beam = [(c.tokens, c.log_prob, c.score) for c in found]
        else:
            row = search(model, sources, vocab, d, loaded.device)[0]
            logp = translation_scores(model, sources, [row], vocab, d.allow_unk, loaded.device)[0]
            beam = [(row, logp, logp / length_penalty(len(row), d.length_penalty))]
        candidates = [
            {"text": self._text(tgt_encoder, row), "log_prob": logp, "score": score}
            for row, logp, score in beam
        ]
        produced = beam[0][0]  # the words, and <eos> if it ended (not cut at max_decode)
        ended = bool(produced) and produced[-1] == vocab.eos_id
        words = [vocab.itos[t] for t in (produced[:-1] if ended else produced)]
        target_tokens = [*words, "<eos>"] if ended else words
        check_tokens("translation", len(target_tokens), max_tokens)
        # teacher forcing: <sos> and every produced token but the last, one row per token
        tgt_in = torch.tensor([[vocab.sos_id, *produced[:-1]]], device=loaded.device)
        with torch.no_grad(), record(model) as recording:
            model.decode(tgt_in, model.encode(src, lengths))
        decoder_tokens = ["<sos>", *target_tokens[:-1]]

        def queries(name: str) -> list[str]:
            return source_tokens if name.startswith("encoder.") else decoder_tokens

        return {
            "source_tokens": source_tokens,
            "target_tokens": target_tokens,
            "candidates": candidates,
            "attention": attention_maps(recording, 0, queries, source_tokens, model),
        }


TASK = Translate()
