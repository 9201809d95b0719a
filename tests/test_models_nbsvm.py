"""The nbsvm encoder: NB log-count ratios against a hand count, binarization, padding, learning."""

import math
from collections import Counter

import pytest
import torch

from seqlab.data import pad_collate
from seqlab.models import SequenceClassifier, SequenceClassifierConfig

V = 30


def model(n: int = 1, **kw) -> SequenceClassifier:
    cfg = SequenceClassifierConfig(vocab_size=V, encoder="nbsvm", embed_dim=1, ngram_n=n, **kw)
    return SequenceClassifier(cfg)


def docs(seed: int = 0, count: int = 24) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    items = []
    for i in range(count):
        length = int(torch.randint(3, 12, (1,), generator=g))
        label = i % 2
        # class 1 favours ids 2..9, class 0 ids 10..17, both share 18..29
        low = 2 if label else 10
        ids = torch.cat(
            [
                torch.randint(low, low + 8, (length,), generator=g),
                torch.randint(18, V, (length // 2,), generator=g),
            ]
        )
        items.append({"ids": ids.numpy(), "length": len(ids), "label": label})
    return items


def test_ratio_matches_a_hand_count_of_document_frequencies():
    items = docs()
    m = model(n=1, nb_alpha=0.5, nb_min_count=2)
    m.prepare([pad_collate(items[:10]), pad_collate(items[10:])])
    df = {0: Counter(), 1: Counter()}
    for it in items:
        df[it["label"]].update(set(it["ids"].tolist()))  # binarized: once per document
    alpha = 0.5
    p = {t: df[1][t] + alpha for t in range(V)}
    q = {t: df[0][t] + alpha for t in range(V)}
    p_sum, q_sum = sum(p.values()), sum(q.values())
    for t in range(1, V):
        seen = df[0][t] + df[1][t]
        expected = math.log(p[t] / p_sum) - math.log(q[t] / q_sum) if seen >= 2 else 0.0
        assert m.encoder.bag.ratio[t].item() == pytest.approx(expected, abs=1e-5), t
    assert m.encoder.bag.ratio[0].item() == 0.0  # padding


def test_logit_is_logistic_regression_on_binarized_nb_features():
    m = model(n=1).eval()
    m.prepare([pad_collate(docs())])
    with torch.no_grad():
        m.encoder.bag.embedding.weight.normal_()
    ids = torch.tensor([[3, 3, 3, 5, 0, 0], [7, 8, 9, 7, 8, 9]])
    logits, _ = m(ids)
    w, r = m.encoder.bag.embedding.weight[:, 0], m.encoder.bag.ratio
    out_w, out_b = m.output.weight[0, 0], m.output.bias[0]
    for row, tokens in enumerate([{3, 5}, {7, 8, 9}]):
        expected = out_w * sum(w[t] * r[t] for t in tokens) + out_b
        assert logits[row, 0].item() == pytest.approx(expected.item(), abs=1e-5)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_padding_does_not_change_logits(n):
    m = model(n=n, num_buckets=97).eval()
    m.prepare([pad_collate(docs())])
    b = pad_collate(docs(seed=1, count=4))
    padded = torch.nn.functional.pad(b["ids"], (0, 5))
    torch.testing.assert_close(m(padded, b["lengths"])[0], m(b["ids"], b["lengths"])[0])


def test_learns_the_training_documents():
    items = docs(count=32)
    m = model(n=2, num_buckets=101)
    batch = pad_collate(items)
    m.prepare([batch])
    opt = torch.optim.Adam(m.parameters(), lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        _, loss = m(**batch)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05


def test_needs_two_classes():
    with pytest.raises(ValueError, match="two classes"):
        model(num_classes=3)
