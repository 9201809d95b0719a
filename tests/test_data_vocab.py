"""Vocab and tokenizers: ids, ordering, JSON round trips, torchtext's basic_english."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.data.text import TextEncoder, truncate_ids
from seqlab.data.tokenizers import basic_english, get_tokenizer, tokenizer_from_dict
from seqlab.data.vocab import Vocab
from seqlab.errors import SeqlabError

# torchtext/data/utils.py (0.6-0.18), copied as the reference for `basic_english`.
_TT_PATTERNS = [
    r"\'",
    r"\"",
    r"\.",
    r"<br \/>",
    r",",
    r"\(",
    r"\)",
    r"\!",
    r"\?",
    r"\;",
    r"\:",
    r"\s+",
]
_TT_REPL = [" '  ", "", " . ", " ", " , ", " ( ", " ) ", " ! ", " ? ", " ", " ", " "]
_TT = list((re.compile(p), r) for p, r in zip(_TT_PATTERNS, _TT_REPL, strict=True))


def torchtext_basic_english(line):
    line = line.lower()
    for pattern_re, replaced_str in _TT:
        line = pattern_re.sub(replaced_str, line)
    return line.split()


def test_basic_english_docstring_example():
    # The example printed in torchtext's get_tokenizer docstring.
    out = basic_english("You can now install TorchText using pip!")
    assert out == ["you", "can", "now", "install", "torchtext", "using", "pip", "!"]
    assert basic_english('It\'s "great";<br />really: (yes).') == [
        "it",
        "'",
        "s",
        "great",
        "really",
        "(",
        "yes",
        ")",
        ".",
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ '\".,()!?;:<br />\t\nÉ\u2028")), max_size=40))
def test_basic_english_matches_torchtext(text):
    assert basic_english(text) == torchtext_basic_english(text)


def test_vocab_specials_order_and_min_freq():
    v = Vocab.build(
        [["b", "a", "c"], ["a", "b"], ["a", "d"]], min_freq=2, specials=["<sos>", "<eos>"]
    )
    # pad, unk, the other specials, then frequency desc (a:3, b:2); c and d are below min_freq.
    assert v.itos == ["<pad>", "<unk>", "<sos>", "<eos>", "a", "b"]
    assert (v.pad_id, v.unk_id, v.sos_id, v.eos_id) == (0, 1, 2, 3)
    assert v.encode(["a", "zzz", "b"]) == [4, 1, 5]
    assert v.decode([4, 0, 5]) == ["a", "b"]


def test_vocab_ties_alphabetical_max_size_stop_words():
    v = Vocab.build([["y", "x", "the", "the", "z"]], max_size=4, stop_words=["the"])
    assert v.itos == ["<pad>", "<unk>", "x", "y"]
    with pytest.raises(KeyError, match="<sos>"):
        _ = v.sos_id


def test_vocab_save_load(tmp_path):
    v = Vocab.build([["ä", "b"]], specials=["<eos>"])
    v.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json") == v
    assert Vocab.from_dict(v.to_dict()) == v
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SeqlabError, match="bad.json"):
        Vocab.load(tmp_path / "bad.json")


def test_truncation_sides_keras_semantics():
    # Keras pad_sequences(truncating="pre") keeps the end of the sequence.
    assert truncate_ids([1, 2, 3, 4], 2, "pre") == [3, 4]
    assert truncate_ids([1, 2, 3, 4], 2, "post") == [1, 2]
    assert truncate_ids([1, 2], 5, "pre") == [1, 2]


def test_text_encoder_round_trip_json():
    import json

    texts = ["A good film.<br /><br />Good!", "a bad film", "bad BAD bad"]
    enc = TextEncoder.fit(texts, "basic_english", min_freq=2, max_length=3, truncate="post")
    assert enc.tokenize("Good<br />film") == ["good", "film"]
    ids = enc.encode("bad good film unseen")
    assert len(ids) == 3 and enc.vocab.decode(ids) == ["bad", "good", "film"]
    again = TextEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    assert again.encode("bad good film unseen") == ids
    assert again.encode("x " * 10, truncate=False) == [1] * 10


def test_text_encoder_stop_words_removed():
    enc = TextEncoder.fit(["the cat and the hat"], "whitespace", stop_words=["the", "and"])
    assert enc.tokenize("the cat sat") == ["cat", "sat"]
    assert "the" not in enc.vocab


def test_bpe_trained_and_serialisable():
    texts = ["lower lowest newer newest wider widest"] * 20
    enc = TextEncoder.fit(texts, "bpe", tokenizer_options={"vocab_size": 30})
    tokens = enc.tokenize("lowest newest")
    assert "".join(tokens).replace("##", "") == "lowestnewest" and len(tokens) >= 3
    assert any(t.startswith("##") for t in tokens)  # pieces inside a word are marked
    assert enc.words(tokens) == ["lowest", "newest"]
    assert enc.decode(enc.encode("wider newer")) == "wider newer"
    again = TextEncoder.from_dict(enc.to_dict())
    assert again.encode("newest widest") == enc.encode("newest widest")
    d = tokenizer_from_dict(enc.tokenizer.to_dict()).to_dict()
    assert d == enc.tokenizer.to_dict()


def test_tokenizer_errors():
    with pytest.raises(SeqlabError, match="unknown tokenizer"):
        get_tokenizer("nope")
    with pytest.raises(SeqlabError, match="not trained"):
        get_tokenizer("bpe")("text")
    try:
        import spacy  # noqa: F401
    except ImportError:
        with pytest.raises(SeqlabError, match="pip install spacy"):
            get_tokenizer("spacy")
    else:
        assert get_tokenizer("spacy")("Hello, world") == ["Hello", ",", "world"]


def test_bpe_keeps_the_case_unless_the_encoder_lower_cases():
    texts = ["A Boston Terrier runs on the grass.", "A man in Berlin reads."] * 30
    cased = TextEncoder.fit(texts, "bpe", lowercase=False, tokenizer_options={"vocab_size": 80})
    lower = TextEncoder.fit(texts, "bpe", lowercase=True, tokenizer_options={"vocab_size": 80})
    assert cased.words(cased.tokenize("A Boston Terrier")) == ["A", "Boston", "Terrier"]
    assert lower.words(lower.tokenize("A Boston Terrier")) == ["a", "boston", "terrier"]
