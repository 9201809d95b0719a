"""Ensembles of classifiers: a weighted average of the class probabilities of checkpoints
trained on the same labels, the weights chosen on the validation split only.

Members must label the same classes and read the same validation texts (trained on the same
data, split and seed); each member tokenizes the texts its own way. The weights are searched on
a grid over the simplex (steps of `step`): the highest validation accuracy, ties going to the
lower validation log-loss. The test split never influences them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.tasks.interfaces import Classifies, Loaded, require

CHUNK = 256  # texts per forward pass


@dataclass
class SplitProbabilities:
    """Each member's (N, K) class probabilities on one split, and the N label ids."""

    members: list[np.ndarray]
    labels: np.ndarray


def check_members(members: list[Loaded]) -> None:
    """SeqlabError unless there are two or more single-label classifiers with the same label
    names."""
    if len(members) < 2:
        raise SeqlabError(f"an ensemble needs at least 2 checkpoints, got {len(members)}")
    from seqlab.tasks.multilabel import loaded_is_multi_label

    for m in members:
        require(m, Classifies, "a classifier")
        if loaded_is_multi_label(m):
            raise SeqlabError(
                f"{m.path} is a multi-label classifier: an ensemble averages the class "
                "probabilities of single-label classifiers (one class per text)"
            )
    names = members[0].label_names
    for m in members[1:]:
        if m.label_names != names:
            raise SeqlabError(
                f"{m.path} labels {m.label_names}, but {members[0].path} labels {names}: "
                "an ensemble averages the probabilities of the same classes"
            )


def probabilities(loaded: Loaded, texts: list[str]) -> np.ndarray:
    """(N, K) class probabilities of `texts`, in chunks of similar lengths."""
    task = loaded.task
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), len(loaded.label_names)))
    for start in range(0, len(order), CHUNK):
        chunk = order[start : start + CHUNK]
        out[chunk] = task.probabilities(loaded, [texts[i] for i in chunk]).double().numpy()
    return out


def split_probabilities(members: list[Loaded], split: str) -> SplitProbabilities:
    """Every member's probabilities on `split` of the data it was trained on; SeqlabError when
    the members' splits hold different texts (other data, split or seed)."""
    texts, labels = None, None
    probs = []
    for m in members:
        run = m.run
        t, y = m.task.split_texts(run.data, split, m.label_names, run.train.seed)
        if not t:
            raise SeqlabError(f"{m.path}: the {split} split of {run.data.source} is empty")
        if texts is None:
            texts, labels = t, y
        elif t != texts or not np.array_equal(y, labels):
            raise SeqlabError(
                f"{m.path} has another {split} split than {members[0].path} (other data, "
                "--split, --valid-fraction or --seed): its members must be scored on the same texts"
            )
        probs.append(probabilities(m, t))
    return SplitProbabilities(probs, np.asarray(labels))


def combine(members: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """The weighted average of the members' probabilities."""
    return sum(w * p for w, p in zip(weights, members, strict=True))


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float((probs.argmax(axis=1) == labels).mean())


def log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1)).mean())


def weight_grid(n: int, step: float) -> list[np.ndarray]:
    """Every weight vector of `n` non-negative multiples of `step` summing to 1, in
    lexicographic order of the multiples (the order `choose_weights` breaks ties by): the
    C(k + n - 1, n - 1) compositions of k = 1 / step, made directly rather than filtered out
    of all (k + 1)^n tuples."""
    k = round(1 / step)
    if n > 6 or abs(k * step - 1) > 1e-9:
        raise SeqlabError(f"weights are searched for up to 6 members, in steps dividing 1 ({step})")
    return [np.array(c, dtype=float) / k for c in compositions(k, n)]


def compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Every tuple of `parts` non-negative integers summing to `total`, lexicographically."""
    if parts == 0:
        if total == 0:
            yield ()
        return
    if parts == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in compositions(total - first, parts - 1):
            yield (first, *rest)


def choose_weights(valid: SplitProbabilities, step: float = 0.05) -> np.ndarray:
    """The grid weights with the best validation accuracy, then the lowest validation loss."""
    best, best_key = None, None
    for w in weight_grid(len(valid.members), step):
        p = combine(valid.members, w)
        key = (accuracy(p, valid.labels), -log_loss(p, valid.labels))
        if best_key is None or key > best_key:
            best, best_key = w, key
    return best


def evaluate_ensemble(
    members: list[Loaded], split: str = "test", weights: list[float] | None = None
) -> dict[str, Any]:
    """Each member's and the ensemble's accuracy and loss on `split`, with the weights (given,
    or chosen on the validation split) and each member's validation figures when chosen."""
    check_members(members)
    result: dict[str, Any] = {"members": [{"checkpoint": str(m.path)} for m in members]}
    if weights is None:
        valid = split_probabilities(members, "valid")
        w = choose_weights(valid)
        for row, p in zip(result["members"], valid.members, strict=True):
            row["valid_accuracy"] = accuracy(p, valid.labels)
        result["valid_accuracy"] = accuracy(combine(valid.members, w), valid.labels)
        result["weights_from"] = "valid"
    else:
        w = check_weights(weights, len(members))
        result["weights_from"] = "given"
    scored = split_probabilities(members, split)
    for row, p in zip(result["members"], scored.members, strict=True):
        row[f"{split}_accuracy"] = accuracy(p, scored.labels)
        row[f"{split}_loss"] = log_loss(p, scored.labels)
    p = combine(scored.members, w)
    result["weights"] = [float(x) for x in w]
    result[f"{split}_accuracy"] = accuracy(p, scored.labels)
    result[f"{split}_loss"] = log_loss(p, scored.labels)
    result["examples"] = len(scored.labels)
    return result


def check_weights(weights: list[float], n: int) -> np.ndarray:
    """`weights` as an array summing to 1; SeqlabError for the wrong count or negative ones."""
    w = np.asarray(weights, dtype=float)
    if len(w) != n:
        raise SeqlabError(f"{len(w)} weights for {n} ensemble members: give one each")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise SeqlabError(f"ensemble weights must be non-negative with a positive sum: {weights}")
    return w / w.sum()


def predict(
    members: list[Loaded], texts: list[str], weights: list[float] | None = None
) -> tuple[list[tuple[str, float]], list[float]]:
    """(label, probability) of each text by the ensemble, and the weights used (given, or
    chosen on the validation split)."""
    check_members(members)
    if weights is None:
        w = choose_weights(split_probabilities(members, "valid"))
    else:
        w = check_weights(weights, len(members))
    p = combine([probabilities(m, texts) for m in members], w)
    names = members[0].label_names
    best = p.argmax(axis=1)
    return [(names[k], float(p[i, k])) for i, k in enumerate(best)], [float(x) for x in w]
