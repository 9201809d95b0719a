"""seqlab.tasks.classify: run config <-> model, splits re-read with a checkpoint's encoder,
predict."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers import write_reviews

from seqlab.config import run_from_options
from seqlab.data.classification import ClassificationDataset
from seqlab.errors import CheckpointError
from seqlab.models import class_probabilities
from seqlab.models.classifier import ENCODERS
from seqlab.tasks import get_task, load
from seqlab.tasks.classify import TASK
from seqlab.tasks.configs import ENCODERS as CLI_ENCODERS
from seqlab.tasks.configs import ClassifyRun


def classify_run(**options) -> ClassifyRun:
    """A ClassifyRun from flat option names, as `seqlab train classify` takes them."""
    return run_from_options(ClassifyRun, options, "the test")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-epoch GRU run on a small synthetic CSV."""
    tmp = tmp_path_factory.mktemp("classify")
    mp = pytest.MonkeyPatch()
    mp.setenv("SEQLAB_CACHE", str(tmp / "cache"))
    data = write_reviews(tmp / "reviews.csv", 200)
    run = classify_run(
        data=str(data), model="gru", embed=8, hidden=8, max_length=10, epochs=2, lr=0.02,
        quiet=True,
    )  # fmt: skip
    result = TASK.train(run, tmp / "run")
    yield run, result, tmp / "run"
    mp.undo()


def test_cli_model_choices_are_the_model_encoders():
    assert CLI_ENCODERS == ENCODERS


def test_build_model_maps_the_options():
    run = classify_run(model="lstm", embed=5, hidden=7, layers=2, bidirectional=True)
    model = TASK.make_model(run, vocab_size=30, num_classes=3)
    c = model.config
    assert (c.encoder, c.embed_dim, c.hidden_size, c.num_layers) == ("lstm", 5, 7, 2)
    assert c.bidirectional and c.num_classes == 3 and c.max_length is None
    dense_run = dataclasses.replace(run, model=dataclasses.replace(run.model, encoder="dense"))
    dense = TASK.make_model(dense_run, vocab_size=30, num_classes=2)
    assert dense.config.max_length == run.data.max_length  # Flatten needs the fixed length


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_split_texts_reproduce_the_training_split(trained, split):
    """The texts of a split, carved again and encoded with the trained encoder (what
    `evaluate` does with a checkpoint), are the training run's split."""
    run, result, _ = trained
    encoder, names = result.data.encoder, result.data.label_names
    texts, labels = TASK.split_texts(run.data, split, names, seed=0)
    again = ClassificationDataset.from_lists(encoder.encode_many(texts), labels)
    original = getattr(result.data, split)
    assert len(again) == len(original)
    assert np.array_equal(again.labels, original.labels)
    for i in range(len(again)):
        assert np.array_equal(again[i]["ids"], original[i]["ids"])


def test_predict_equals_the_model_probabilities(trained):
    _, result, run = trained
    texts = ["great superb fun", "worst awful plot", ""]
    loaded = load(run / "last.pt")
    predictions = loaded.task.predict(loaded, texts)
    model, encoder, names = loaded.model, loaded.encoder, loaded.label_names
    for text, (label, prob) in zip(texts, predictions, strict=True):
        ids = torch.tensor([encoder.encode(text) or [0]])
        with torch.no_grad():
            p = class_probabilities(model(ids=ids)[0])[0]
        assert label == names[int(p.argmax())] and prob == pytest.approx(float(p.max()))


def test_checkpoint_names_its_task(trained):
    _, _, run = trained
    assert load(run / "best.pt").task is TASK is get_task("classify")
    with pytest.raises(CheckpointError, match="unknown task 'speech'"):
        get_task("speech")


def test_no_validation_split_trains_on_all_of_train(tmp_path, monkeypatch):
    """An empty validation split: the run watches the training loss."""
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    data = write_reviews(tmp_path / "reviews.csv", 60)
    run = classify_run(
        data=str(data), model="nbsvm", embed=1, split="9:0:1", epochs=2, quiet=True, patience=1
    )
    result = TASK.train(run, tmp_path / "run")
    assert (len(result.data.train), len(result.data.valid), len(result.data.test)) == (54, 0, 6)
    assert len(result.history) == 2 and "valid_loss" not in result.history[0]
    # Two sentiment words decide each label: NBSVM gets all 6 test reviews right.
    assert result.test["accuracy"] == 1.0


def test_factored_output_groups_labels_by_frequency_and_predicts_as_a_softmax(
    tmp_path, monkeypatch
):
    """--factored G: an exact distribution over the K labels, its G groups by training label
    frequency (`prepare`), kept by the checkpoint; the model learns as with a plain softmax."""
    import csv
    import random

    from seqlab.nn import frequency_classes

    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    rng = random.Random(0)
    # six labels with skewed frequencies; each label's texts share a keyword
    labels = [f"c{k}" for k in range(6) for _ in range((6 - k) * 30)]
    rng.shuffle(labels)
    path = tmp_path / "texts.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for label in labels:
            words = [f"key{label}", *rng.choices(["a", "b", "c", "d", "e"], k=4)]
            rng.shuffle(words)
            w.writerow([" ".join(words), label])
    run = classify_run(
        data=str(path), model="gru", embed=16, hidden=16, max_length=10, epochs=6, lr=0.02,
        factored_classes=3, quiet=True, seed=0,
    )  # fmt: skip
    result = TASK.train(run, tmp_path / "run")
    assert result.test["accuracy"] >= 0.95, result.test
    loaded = load(tmp_path / "run" / "best.pt")
    output = loaded.model.output
    counts = torch.bincount(torch.as_tensor(result.data.train.labels), minlength=6)
    assert torch.equal(output.class_of, frequency_classes(counts, 3))
    assert len(set(output.class_of.tolist())) == 3
    ids = torch.randint(1, result.data.vocab_size, (4, 6))
    logits, _ = loaded.model.eval()(ids)
    probs = class_probabilities(logits)
    torch.testing.assert_close(probs, logits.exp())  # the logits are log-probabilities
    torch.testing.assert_close(probs.sum(1), torch.ones(4))
    from seqlab.errors import SeqlabError

    with pytest.raises(SeqlabError, match="3 or more exclusive classes"):
        TASK.make_model(classify_run(factored_classes=2), vocab_size=30, num_classes=2)
