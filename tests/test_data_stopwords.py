"""Stop words: the named lists, a user's file, the classify option, and checkpoints keep them."""

from __future__ import annotations

import pytest
import torch
from helpers import write_reviews

from seqlab.config import run_from_options
from seqlab.data import TextEncoder
from seqlab.data.stopwords import ENGLISH, stop_words
from seqlab.errors import SeqlabError
from seqlab.tasks import load
from seqlab.tasks.classify import TASK
from seqlab.tasks.configs import ClassifyRun


def test_named_lists_and_files(tmp_path):
    assert stop_words("none") == [] and stop_words(None) == []
    english = stop_words("english")
    assert len(english) == len(set(ENGLISH)) == 179
    assert {"the", "not", "no", "don", "t"} <= set(english)  # negations too (NLTK's list)
    words = tmp_path / "stop.txt"
    words.write_text("# my list\nThe movie\n  film\n", encoding="utf-8")
    assert stop_words(str(words)) == ["film", "movie", "the"]
    with pytest.raises(SeqlabError, match="none, english"):
        stop_words("klingon")


def test_encoder_drops_stop_words_and_keeps_them_in_its_dict():
    texts = ["the film was not good", "a good film"]
    enc = TextEncoder.fit(texts, stop_words=stop_words("english"))
    assert "the" not in enc.vocab and "not" not in enc.vocab
    again = TextEncoder.from_dict(enc.to_dict())
    assert again.encode("The film was good") == enc.encode("film good")


def test_classify_checkpoint_predicts_with_its_stop_words(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    data = write_reviews(tmp_path / "reviews.csv", 60)
    options = {"data": str(data), "stop_words": "english", "embed": 4, "hidden": 4}
    options |= {"max_length": 8, "epochs": 1, "quiet": True}
    run = run_from_options(ClassifyRun, options, "the test")
    result = TASK.train(run, tmp_path / "run")
    assert not {"the", "a", "and"} & set(result.data.encoder.vocab.itos)
    loaded = load(tmp_path / "run" / "last.pt")
    model, encoder = loaded.model, loaded.encoder
    assert loaded.state["config"]["data"]["stop_words"] == "english"
    assert loaded.run.data.stop_words == "english"
    assert encoder.stop_words == frozenset(ENGLISH)
    text = "the plot and the acting"
    assert encoder.encode(text) == result.data.encoder.encode(text)
    assert encoder.encode(text) == encoder.encode("plot acting")
    assert isinstance(model, torch.nn.Module)


def test_duke_preset_and_flags_override_it():
    from seqlab.cli import build_parser
    from seqlab.commands.options import run_config

    args = build_parser().parse_args(["train", "classify", "--preset", "duke", "--epochs", "2"])
    run, _ = run_config(args)
    data, model, train = run.data, run.model, run.train
    assert (data.source, data.split, data.stop_words) == ("imdb", "7:1:2", "english")
    assert data.min_freq == 5
    assert (model.encoder, model.hidden_size, data.max_length, data.max_vocab) == (
        "lstm", 100, 256, None,
    )  # fmt: skip
    assert (train.optimizer, train.lr, train.epochs) == ("sgd", 0.01, 2)
    args = build_parser().parse_args(["train", "classify", "--stop-words", "english"])
    assert run_config(args)[0].data.stop_words == "english"
