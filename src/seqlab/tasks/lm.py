"""Language modelling: train on WikiText-2 or your text, evaluate perplexity, generate text.

Recurrent models carry their state across consecutive bptt windows (`seqlab.train.CarryState`);
Transformers see each window on its own, as in the PyTorch tutorial. Checkpoints hold the model
config and the text encoder (tokenizer settings + vocabulary), so `seqlab evaluate` and
`seqlab generate` need nothing else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from seqlab.config import replaced
from seqlab.data.lm import LMBatches, LMData, line_tokens, load_lm_text, wikitext2_files
from seqlab.data.readers import read_lines
from seqlab.data.text import TextEncoder
from seqlab.data.tokenizers import get_tokenizer
from seqlab.data.vocab import PAD, SOS
from seqlab.decoding import sample_distributions
from seqlab.errors import SeqlabError
from seqlab.explain import check_tokens
from seqlab.models import language_model
from seqlab.models.language_model import LanguageModelConfig
from seqlab.tasks.base import Loaded, Task, split_sizes
from seqlab.tasks.configs import LMRun
from seqlab.tasks.lm_words import explained, explained_words, final_words, first_words
from seqlab.train import CarryState, Forward, Metric, Perplexity, Trainer, evaluate
from seqlab.train.distributed import dist_info


def split_files(data: Any) -> dict[str, Path]:
    """{"train", "valid", "test"} files of a data section (one file: {"text": it})."""
    if data.source == "wikitext-2":
        return wikitext2_files(data.data_dir)
    parts = [Path(p) for p in data.source.split(",")]
    for p in parts:
        if not p.is_file():
            raise SeqlabError(
                f"{p}: no such file (give 'wikitext-2', FILE.txt or TRAIN,VALID,TEST)"
            )
    if len(parts) == 3:
        return dict(zip(LM.splits, parts, strict=True))
    if len(parts) == 1:
        return {"text": parts[0]}
    raise SeqlabError(f"--data takes one file or three (train,valid,test), got {len(parts)}")


def load_data(data: Any) -> LMData:
    """Token-id streams of train/valid/test; the vocabulary is built on train."""
    files = split_files(data)
    settings = dict(
        tokenizer=data.tokenizer,
        lower=data.lower,
        sos=data.sos,
        min_freq=data.min_freq,
        max_size=data.max_vocab,
    )
    if "text" not in files:
        return load_lm_text(files, **settings)
    # One file: consecutive lines (not shuffled: a language model reads text in order) give the
    # first 90% to train, then 5% to valid and 5% to test.
    loaded = load_lm_text({"train": files["text"]}, **settings)
    whole, n = loaded.train, len(loaded.train)
    a, b = int(n * 0.9), int(n * 0.95)
    if n - b < 2:
        raise SeqlabError(f"{files['text']}: {n} tokens are too few to split into train/valid/test")
    return LMData(whole[:a], whole[a:b], whole[b:], loaded.vocab)


def batches(stream: torch.Tensor, batch_size: int, bptt: int) -> LMBatches:
    """bptt windows of `stream` in `batch_size` columns, sharded over DDP processes."""
    info = dist_info()
    return LMBatches(stream, batch_size, bptt, num_replicas=info.world_size, rank=info.rank)


def encode_stream(path: Path, encoder: TextEncoder, sos: bool) -> torch.Tensor:
    """A text file as one token-id stream, line by line as in training, with `encoder`'s vocab."""
    tokens = line_tokens(read_lines(path), encoder.tokenizer, encoder.lowercase, sos, True)
    return torch.tensor(encoder.vocab.encode(tokens), dtype=torch.long)


def split_stream(data: Any, encoder: TextEncoder, split: str) -> torch.Tensor:
    """The token ids of a split of a data section, encoded with the checkpoint's vocabulary."""
    if split not in LM.splits:
        raise LM.split_error(split)
    files = split_files(data)
    if "text" in files:  # the one-file split of training (same file, same vocabulary)
        return getattr(load_data(data), split)
    return encode_stream(files[split], encoder, data.sos)


class LanguageModelling(Task):
    """`seqlab train lm`: next-word prediction over token streams cut into bptt windows."""

    name = "lm"
    run_class = LMRun
    use = "seqlab generate CHECKPOINT --prompt TEXT"

    def load_data(self, run: LMRun) -> LMData:
        return load_data(run.data)

    def check(self, run: LMRun) -> None:
        """Two output layers at once, refused before WikiText-2 is read."""
        if run.model.factored_classes and run.model.adaptive_cutoffs:
            raise SeqlabError(
                "--factored replaces the output layer, and so does --adaptive "
                f"({','.join(map(str, run.model.adaptive_cutoffs))}; the cpu-lstm preset sets it): "
                "add --adaptive none"
            )

    size_names = ("vocab_size",)

    def sizes(self, data: LMData) -> dict[str, int]:
        return {"vocab_size": len(data.vocab)}

    def make_model(self, run: LMRun, **sizes: int) -> torch.nn.Module:
        config = LanguageModelConfig(**sizes, **dataclasses.asdict(run.model))
        try:
            return language_model(config)
        except ValueError as e:
            raise SeqlabError(f"cannot build the {run.model.arch} language model: {e}") from None

    def prepare(self, model: torch.nn.Module, data: LMData) -> None:
        model.prepare(data.train)

    def saved_state(self, run: LMRun, data: LMData) -> dict[str, Any]:
        # The encoder of prompts and evaluation text: the run's tokenizer and vocabulary.
        tok = get_tokenizer(run.data.tokenizer)
        encoder = TextEncoder(tok, data.vocab, lowercase=run.data.lower, strip_html=False)
        return {"encoder": encoder.to_dict()}

    def loaders(self, run: LMRun, data: LMData) -> tuple[Any, Any | None]:
        d = run.data
        valid = batches(data.valid, d.eval_batch_size, d.bptt) if len(data.valid) > 1 else None
        return batches(data.train, run.train.batch_size, d.bptt), valid

    def metric(self) -> Metric:
        return Perplexity()

    def forward(self) -> Forward:
        return CarryState()

    def describe(self, run: LMRun, data: LMData, model: Any, params: int) -> str:
        return (
            f"{run.model.arch} language model, {params:,} parameters; vocabulary "
            f"{len(data.vocab):,}; " + split_sizes(data, "tokens")
        )

    def test(self, run: LMRun, data: LMData, trainer: Trainer) -> tuple[dict, dict]:
        d, t = run.data, run.train
        loader = batches(data.test, d.eval_batch_size, d.bptt)
        test = evaluate(
            trainer.model, loader, Perplexity(), trainer.device, forward=CarryState(),
            amp=t.amp, limit=t.limit_batches,
        )  # fmt: skip
        trainer.log(f"test loss {test['loss']:.4f}  test perplexity {test['perplexity']:.2f}")
        return test, {}

    def extra_results(self, run: LMRun, data: LMData, result: Any) -> dict[str, Any]:
        history, wall = result.history, result.train_wall_s
        epochs_run = len(history) - (history[0]["epoch"] - 1 if history else 0)
        return {
            "train_tokens": len(data.train),  # per epoch
            "tokens_per_s": len(data.train) * max(1, epochs_run) / wall if wall > 0 else None,
        }

    def write_outputs(self, out_dir: Path, result: Any) -> None:
        from seqlab.report import plot_curves

        plot_curves(out_dir / "curves.png", result.history, result.test)

    def score(self, loaded: Loaded, run: LMRun, split: str, batch_size: Any, limit_batches: Any):
        """Loss and perplexity on a split of the data, or on all of a new text file given as
        `data`; the token count."""
        section = run.data
        if section.source != loaded.run.data.source and Path(section.source).is_file():
            where = section.source
            stream = encode_stream(Path(section.source), loaded.encoder, section.sos)
        else:
            where = f"the {split} split of {section.source}"
            stream = split_stream(section, loaded.encoder, split)
        B = batch_size or section.eval_batch_size
        if len(stream) // B < 2:  # batchify's rows: fewer than 2 leave no target to predict
            raise SeqlabError(
                f"{where}: {len(stream):,} tokens are too few to evaluate in {B} columns "
                f"(at least {2 * B}; a smaller --batch-size needs fewer)"
            )
        loader = LMBatches(stream, B, section.bptt)
        metrics = evaluate(
            loaded.model, loader, Perplexity(), loaded.device, forward=CarryState(),
            limit=limit_batches,
        )  # fmt: skip
        return {**metrics, "tokens": len(stream)}

    def evaluate_with_cache(
        self,
        loaded: Loaded,
        *,
        window: int = 2000,
        theta: float | None = None,
        lam: float | None = None,
        split: str = "test",
        data_dir: str | None = None,
        batch_size: int | None = None,
    ) -> dict[str, float]:
        """Perplexity on `split` with the continuous cache (seqlab.models.neural_cache).
        Without `theta` and `lam` they are tuned on the validation split first."""
        from seqlab.models import neural_cache

        section = replaced(loaded.run.data, data_dir=data_dir)
        model, encoder = loaded.model, loaded.encoder
        evaluated = split_stream(section, encoder, split)  # a bad split fails before tuning
        B = batch_size or section.eval_batch_size
        out: dict[str, float] = {"window": window}
        if theta is None or lam is None:
            valid_stream = split_stream(section, encoder, "valid")
            valid = neural_cache.cache_pass(model, valid_stream, B, section.bptt, window)
            theta, lam, ppl = neural_cache.tune(valid)
            out |= {
                "valid_perplexity_cache": ppl,
                "valid_perplexity": neural_cache.cache_perplexity(*valid, 1.0, 0.0),
            }
        tested = neural_cache.cache_pass(model, evaluated, B, section.bptt, window)
        out |= {
            "theta": theta,
            "lambda": lam,
            "perplexity": neural_cache.cache_perplexity(*tested, 1.0, 0.0),
            "perplexity_cache": neural_cache.cache_perplexity(*tested, theta, lam),
        }
        return out

    def generate(
        self,
        loaded: Loaded,
        prompt: str = "",
        *,
        words: int = 20,
        num: int = 3,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        cached: bool = True,
    ) -> tuple[list[str], list[str]]:
        """`num` continuations of `prompt` (`words` new tokens each) and its unknown words.

        Without a prompt each text starts from a random word of the vocabulary (the course's
        `generate`), which counts as its first word.
        """
        from seqlab.decoding import generate

        generator, start, new, unknown, banned = self._start(loaded, prompt, words, num, seed)
        try:
            out = generate(
                loaded.model, start.to(loaded.device), new, temperature=temperature,
                top_k=top_k, top_p=top_p, generator=generator, cached=cached, banned=banned,
            )  # fmt: skip
        except ValueError as e:  # e.g. past the positional table, or a bad top-p
            raise SeqlabError(f"cannot generate: {e}") from None
        itos = loaded.encoder.vocab.itos
        words_of = loaded.encoder.words
        texts = [" ".join(words_of([itos[int(i)] for i in row])) for row in out.cpu()]
        return texts, unknown

    def _start(self, loaded: Loaded, prompt: str, words: int, num: int, seed: int | None):
        """What `generate` and `stream` begin with: (generator, start ids (num, T), tokens to
        draw, unknown prompt words, banned ids); the first word drawn here without a prompt."""
        if words < 1:
            raise SeqlabError(f"--words must be at least 1, got {words}")
        if num < 1:
            raise SeqlabError(f"--num must be at least 1, got {num}")
        encoder = loaded.encoder
        vocab = encoder.vocab
        generator = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
        tokens = encoder.tokenize(prompt) if prompt.strip() else []
        unknown = [t for t in tokens if t not in vocab.stoi]
        if tokens:
            start = torch.tensor([vocab.encode(tokens)] * num, dtype=torch.long)  # (num, T)
            new = words
        else:
            first = first_words(vocab)
            pick = torch.randint(len(first), (num, 1), generator=generator)
            start = torch.tensor(first)[pick]  # (num, 1)
            new = words - 1
        # Padding and <sos> are never text: the model may give them some probability all
        # the same (<sos> starts every line of a --sos run), so they are never drawn.
        banned = [vocab.stoi[t] for t in (PAD, SOS) if t in vocab.stoi]
        return generator, start, new, unknown, banned

    def stream(
        self,
        loaded: Loaded,
        prompt: str = "",
        *,
        words: int = 20,
        num: int = 1,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> tuple[list[str], Iterator[list[list[str]]]]:
        """`generate` word by word: (unknown prompt words, an iterator). Each item has, per
        text, the words that became final at that step (a word is final once the next token
        does not join onto it, or at the end); all of them, joined by spaces, are the texts
        `generate` gives for the same seed, prompt words first. Setting errors (SeqlabError)
        come from this call; a step's error as SeqlabError from the iterator."""
        generator, start, new, unknown, banned = self._start(loaded, prompt, words, num, seed)
        sampling = dict(temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
        draws = sample_distributions(
            loaded.model, start.to(loaded.device), new, banned=banned, **sampling
        )
        steps = (nxt for nxt, _ in draws)
        items = final_words(loaded, start, steps)
        return unknown, ([[w for w, _ in row] for row in item] for item in items)

    def explain_stream(
        self,
        loaded: Loaded,
        prompt: str = "",
        *,
        words: int = 20,
        seed: int | None = None,
        max_tokens: int | None = None,
        **sampling: Any,
    ) -> tuple[list[str], Iterator[list[tuple[str, list[dict[str, Any]]]]]]:
        """`stream` of one text, each final word with the "top" of `explain` of the step that
        drew its last token ([] for the prompt's words, which are not drawn)."""
        generator, start, new, unknown, banned = self._start(loaded, prompt, words, 1, seed)
        check_tokens("prompt and words", start.size(1) + new, max_tokens)
        steps = explained_words(
            loaded, prompt, start, new, generator=generator, banned=banned, **sampling
        )
        return unknown, steps

    def explain(
        self,
        loaded: Loaded,
        prompt: str = "",
        *,
        words: int = 20,
        seed: int | None = None,
        max_tokens: int | None = None,
        **sampling: Any,
    ) -> dict[str, Any]:
        """One continuation explained (the contract's shape): per drawn token its string and
        the top 10 of the distribution it was drawn from (the tokens `generate` draws for the
        same seed; without a prompt the first is uniform over the words), and the attention
        maps and recurrent traces of one pass over all the tokens."""
        generator, start, new, _, banned = self._start(loaded, prompt, words, 1, seed)
        check_tokens("prompt and words", start.size(1) + new, max_tokens)
        sampling |= {"generator": generator, "banned": banned}
        return explained(loaded, prompt, start, new, **sampling)


TASK = LM = LanguageModelling()
