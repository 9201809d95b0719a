"""Tokenizers: torchtext's `basic_english`, whitespace, BPE (HF `tokenizers`) and spaCy.

Every tokenizer is a callable `text -> list[str]` with `tokenize_many`, `train` (a no-op except
for BPE, which learns its merges from the training split), `words(tokens)` (tokens back to words:
the identity except for BPE, whose word-inner pieces start with `##`) and `to_dict()`, so a
checkpoint can rebuild it with `tokenizer_from_dict`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from seqlab.errors import SeqlabError

# torchtext.data.utils._basic_english_normalize: these substitutions, in this order, on the
# lower-cased line, then a split on whitespace. Kept as regexes so the behaviour is torchtext's by
# construction; on IMDB train (25k reviews, 6.8M tokens) the pass takes ~3.5 s here.
_PATTERNS = [
    (re.compile(p), r)
    for p, r in [
        (r"\'", " '  "),
        (r"\"", ""),
        (r"\.", " . "),
        (r"<br \/>", " "),
        (r",", " , "),
        (r"\(", " ( "),
        (r"\)", " ) "),
        (r"\!", " ! "),
        (r"\?", " ? "),
        (r"\;", " "),
        (r"\:", " "),
        (r"\s+", " "),
    ]
]


def basic_english(text: str) -> list[str]:
    """torchtext's `basic_english`: lower-case, split off ' . , ( ) ! ?, drop " ; : and <br />."""
    text = text.lower()
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text.split()


class BasicEnglishTokenizer:
    """torchtext's `get_tokenizer("basic_english")` (see `basic_english`)."""

    name = "basic_english"

    def __call__(self, text: str) -> list[str]:
        return basic_english(text)

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenize many texts."""
        return [basic_english(t) for t in texts]

    def train(self, texts: Sequence[str]) -> None:
        """Nothing to learn."""

    def words(self, tokens: Sequence[str]) -> list[str]:
        """Tokens back to words: these tokens are words already."""
        return list(tokens)

    def to_dict(self) -> dict:
        """JSON-safe settings."""
        return {"name": self.name}


class WhitespaceTokenizer(BasicEnglishTokenizer):
    """Split on runs of whitespace (`str.split()`), nothing else."""

    name = "whitespace"

    def __call__(self, text: str) -> list[str]:
        return text.split()

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenize many texts."""
        return [t.split() for t in texts]


class BPETokenizer:
    """Byte-pair encoding (Sennrich et al., 2016) learned by HF `tokenizers` on the train split.

    A piece that continues a word starts with `##` ("walking" -> "walk", "##ing"), so generated
    pieces join back into words (`words`), and BLEU and printed text are about words. The case
    is the text encoder's to decide (`TextEncoder(lowercase=)` lower-cases before tokenizing);
    `lowercase=True` here adds a lower-casing normaliser, as checkpoints before that kept."""

    name = "bpe"
    prefix = "##"

    def __init__(
        self,
        vocab_size: int = 8000,
        min_frequency: int = 2,
        lowercase: bool = False,  # the text encoder lower-cases first when its `lowercase` says so
        model: str | None = None,
    ) -> None:
        self.vocab_size, self.min_frequency, self.lowercase = vocab_size, min_frequency, lowercase
        self._tok = None
        if model is not None:
            from tokenizers import Tokenizer

            self._tok = Tokenizer.from_str(model)

    def train(self, texts: Sequence[str]) -> None:
        """Learn the merges from `texts` (the training split only)."""
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token="<unk>", continuing_subword_prefix=self.prefix))
        steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if self.lowercase else [])
        tok.normalizer = normalizers.Sequence(steps)
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.BpeTrainer(
            vocab_size=self.vocab_size,
            min_frequency=self.min_frequency,
            special_tokens=["<unk>"],
            continuing_subword_prefix=self.prefix,
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
        self._tok = tok

    def _require(self):
        if self._tok is None:
            raise SeqlabError("the BPE tokenizer is not trained: call .train(training_texts) first")
        return self._tok

    def __call__(self, text: str) -> list[str]:
        return self._require().encode(text).tokens

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenize many texts (in parallel inside `tokenizers`)."""
        return [e.tokens for e in self._require().encode_batch(list(texts))]

    def words(self, tokens: Sequence[str]) -> list[str]:
        """Join `##` pieces onto the word before them: ["walk", "##ing", "."] -> ["walking", "."].
        (Models trained before pieces were marked give their pieces back unjoined.)"""
        out: list[str] = []
        n = len(self.prefix)
        for t in tokens:
            if t.startswith(self.prefix) and len(t) > n:
                if out:
                    out[-1] += t[n:]
                else:  # a sampled first piece: the word's end alone
                    out.append(t[n:])
            else:
                out.append(t)
        return out

    def to_dict(self) -> dict:
        """JSON-safe settings plus the learned model (as HF's JSON string)."""
        d = {
            "name": self.name,
            "vocab_size": self.vocab_size,
            "min_frequency": self.min_frequency,
            "lowercase": self.lowercase,
        }
        if self._tok is not None:
            d["model"] = self._tok.to_str()
        return d


class SpacyTokenizer(BasicEnglishTokenizer):
    """spaCy's rule-based tokenizer for `language` (a blank pipeline, or a named model)."""

    name = "spacy"

    def __init__(self, language: str = "en") -> None:
        try:
            import spacy
        except ImportError as e:
            raise SeqlabError(
                "the 'spacy' tokenizer needs spaCy: pip install spacy "
                "(or use tokenizer='basic_english')"
            ) from e
        self.language = language
        try:
            nlp = spacy.load(language) if "_" in language else spacy.blank(language)
        except (OSError, ImportError) as e:
            raise SeqlabError(f"spaCy cannot load {language!r}: {e}") from e
        self._tokenize = nlp.tokenizer

    def __call__(self, text: str) -> list[str]:
        return [t.text for t in self._tokenize(text) if not t.is_space]

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenize many texts."""
        return [self(t) for t in texts]

    def to_dict(self) -> dict:
        """JSON-safe settings."""
        return {"name": self.name, "language": self.language}


TOKENIZERS = {
    "basic_english": BasicEnglishTokenizer,
    "whitespace": WhitespaceTokenizer,
    "bpe": BPETokenizer,
    "spacy": SpacyTokenizer,
}

Tokenizer = BasicEnglishTokenizer | WhitespaceTokenizer | BPETokenizer | SpacyTokenizer


def get_tokenizer(name: str, **opts) -> Tokenizer:
    """A tokenizer by name: basic_english, whitespace, bpe (vocab_size=), spacy (language=)."""
    if name not in TOKENIZERS:
        raise SeqlabError(f"unknown tokenizer {name!r}; choose from {', '.join(TOKENIZERS)}")
    try:
        return TOKENIZERS[name](**opts)
    except TypeError as e:
        raise SeqlabError(f"bad options for tokenizer {name!r}: {e}") from e


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild a tokenizer from its `to_dict()`."""
    opts = {k: v for k, v in d.items() if k != "name"}
    return get_tokenizer(d["name"], **opts)
