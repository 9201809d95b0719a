"""Task metric hooks: per-batch counts the Trainer sums over batches and processes; BLEU of
decoded translations."""

from __future__ import annotations

import math
import re
from typing import Any, Protocol

import torch

Batch = dict[str, torch.Tensor]


class Metric(Protocol):
    """What a task tells the Trainer about its outputs.

    `counts` returns tensors to be summed over an epoch; "count" (required) is the number of
    targets the batch's mean loss was taken over, so the epoch loss is a true per-target mean.
    `summarize` turns the summed counts and that epoch loss into named metrics. `keys` names
    the counts, so a process that saw no batch still contributes zeros to the all-reduce; counts
    are scalars unless `shapes` (optional) gives one, e.g. a confusion matrix (K, K).
    """

    keys: tuple[str, ...]

    def counts(self, logits: torch.Tensor, batch: Batch) -> Batch:
        """Per-batch sums, including "count"."""
        ...

    def summarize(self, loss: float, totals: dict[str, float]) -> dict[str, float]:
        """Epoch metrics from the mean loss and the summed counts."""
        ...


class Accuracy:
    """Classification accuracy; logits (B, 1) are one sigmoid unit (> 0: positive), else (B, C)."""

    keys = ("count", "correct")

    def counts(self, logits: torch.Tensor, batch: Batch) -> Batch:
        """Number of labels and of correct predictions in the batch."""
        labels = batch["labels"]  # (B,)
        if logits.shape[-1] == 1:
            predicted = (logits[:, 0] > 0).long()
        else:
            predicted = logits.argmax(dim=-1)
        return {"count": torch.tensor(labels.numel()), "correct": (predicted == labels).sum()}

    def summarize(self, loss: float, totals: dict[str, float]) -> dict[str, float]:
        """{"accuracy": correct / count}."""
        return {"accuracy": totals["correct"] / max(1.0, totals["count"])}


class ConfusionMatrix(Accuracy):
    """Accuracy and the confusion matrix C[true, predicted] of K classes, summed like any count
    (over batches and DDP processes). For evaluation; `class_report` turns C into per-class
    precision, recall and F1."""

    keys = ("count", "correct", "confusion")

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.shapes = {"confusion": (num_classes, num_classes)}

    def counts(self, logits: torch.Tensor, batch: Batch) -> Batch:
        """Accuracy's counts and this batch's confusion matrix (K, K)."""
        out = super().counts(logits, batch)
        labels = batch["labels"]
        predicted = (logits[:, 0] > 0).long() if logits.shape[-1] == 1 else logits.argmax(-1)
        K = self.num_classes
        pairs = labels * K + predicted  # (B,): row = true class, column = predicted class
        out["confusion"] = torch.bincount(pairs, minlength=K * K).view(K, K)
        return out

    def summarize(self, loss: float, totals: dict) -> dict:
        """{"accuracy", "confusion": K lists of K counts}."""
        confusion = [[int(round(float(v))) for v in row] for row in totals["confusion"]]
        return {**super().summarize(loss, totals), "confusion": confusion}


def class_report(confusion: list[list[int]], names: list[str]) -> list[dict]:
    """Per class (then the macro average): support, accuracy (= recall: the share of the class's
    examples classified right), precision, recall and F1, from C[true, predicted]."""
    rows = []
    K = len(names)
    for k, name in enumerate(names):
        support = sum(confusion[k])
        predicted = sum(confusion[i][k] for i in range(K))
        tp = confusion[k][k]
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        row = {"class": name, "support": support, "accuracy": recall}
        rows.append(row | {"precision": precision, "recall": recall, "f1": f1})
    macro = {key: sum(r[key] for r in rows) / K for key in ("precision", "recall", "f1")}
    total = sum(r["support"] for r in rows)
    rows.append({"class": "macro avg", "support": total, "accuracy": macro["recall"], **macro})
    return rows


class MultiLabelF1:
    """Multi-label classification at a decision threshold: label k is predicted when its
    sigmoid exceeds `thresholds[k]` (one number: every label's). Per-label true positives,
    false positives and false negatives (K,) and the exactly right texts are summed like any
    count; `summarize` gives micro F1 (from the summed counts), macro F1 (the mean of the
    labels' F1; a label never predicted nor present scores 0, as scikit-learn's
    zero_division=0) and the exact-match ratio (scikit-learn's subset accuracy)."""

    keys = ("count", "exact", "tp", "fp", "fn")

    def __init__(self, num_labels: int, thresholds: float | Any = 0.5) -> None:
        self.num_labels = num_labels
        t = torch.as_tensor(thresholds, dtype=torch.float32).flatten()
        if t.numel() not in (1, num_labels):
            raise ValueError(f"thresholds must be one number or {num_labels}, got {t.numel()}")
        self.thresholds = t.expand(num_labels).clone()  # (K,)
        self.shapes = {k: (num_labels,) for k in ("tp", "fp", "fn")}

    def predicted(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, K) bool: the labels above their thresholds."""
        return torch.sigmoid(logits.float()) > self.thresholds.to(logits.device)

    def counts(self, logits: torch.Tensor, batch: Batch) -> Batch:
        """Texts, exact matches and per-label tp/fp/fn (K,) of the batch."""
        truth = batch["labels"].bool()  # (B, K)
        pred = self.predicted(logits)  # (B, K)
        return {
            "count": torch.tensor(truth.size(0)),
            "exact": (pred == truth).all(dim=1).sum(),
            "tp": (pred & truth).sum(dim=0),
            "fp": (pred & ~truth).sum(dim=0),
            "fn": (~pred & truth).sum(dim=0),
        }

    def summarize(self, loss: float, totals: dict[str, Any]) -> dict[str, float]:
        """{"micro_f1", "macro_f1", "exact_match"}."""
        tp, fp, fn = (torch.as_tensor(totals[k], dtype=torch.float64) for k in ("tp", "fp", "fn"))
        f1 = 2 * tp / (2 * tp + fp + fn).clamp(min=1)  # (K,); 0 where undefined
        micro = 2 * tp.sum() / (2 * tp.sum() + fp.sum() + fn.sum()).clamp(min=1)
        return {
            "micro_f1": float(micro),
            "macro_f1": float(f1.mean()),
            "exact_match": totals["exact"] / max(1.0, totals["count"]),
        }


class MultiLabelReport(MultiLabelF1):
    """`MultiLabelF1` that also returns the per-label counts ("tp", "fp", "fn": K ints each),
    for evaluation; `label_report` turns them into a table."""

    def summarize(self, loss: float, totals: dict[str, Any]) -> dict[str, Any]:
        """MultiLabelF1's figures and the per-label counts."""
        out: dict[str, Any] = super().summarize(loss, totals)
        for k in ("tp", "fp", "fn"):
            out[k] = [int(round(float(v))) for v in totals[k]]
        return out


def label_report(
    tp: list[int], fp: list[int], fn: list[int], names: list[str], thresholds: list[float]
) -> list[dict]:
    """Per label: its threshold, support (texts carrying it), precision, recall and F1."""
    rows = []
    for k, name in enumerate(names):
        precision = tp[k] / (tp[k] + fp[k]) if tp[k] + fp[k] else 0.0
        recall = tp[k] / (tp[k] + fn[k]) if tp[k] + fn[k] else 0.0
        f1 = 2 * tp[k] / (2 * tp[k] + fp[k] + fn[k]) if tp[k] + fp[k] + fn[k] else 0.0
        row = {"label": name, "threshold": float(thresholds[k]), "support": tp[k] + fn[k]}
        rows.append(row | {"precision": precision, "recall": recall, "f1": f1})
    return rows


class Perplexity:
    """Perplexity exp(mean token loss) for language models and decoders (Jurafsky & Martin §3.3).

    `target_key` names the target tokens in the batch; `offset` skips leading positions that are
    not predicted (1 for a seq2seq `tgt`, whose first token is `<sos>`). Pad id 0 is not counted.
    """

    keys = ("count",)

    def __init__(self, target_key: str = "targets", offset: int = 0) -> None:
        self.target_key = target_key
        self.offset = offset

    def counts(self, logits: torch.Tensor, batch: Batch) -> Batch:
        """Number of real (non-pad) target tokens."""
        targets = batch[self.target_key][:, self.offset :]  # (B, T)
        return {"count": (targets != 0).sum()}

    def summarize(self, loss: float, totals: dict[str, float]) -> dict[str, float]:
        """{"perplexity": exp(loss)}, capped to avoid overflow for an untrained model."""
        return {"perplexity": math.exp(min(loss, 700.0))}


# -- BLEU ------------------------------------------------------------------------------------
_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}]|'s|'re|'ve|'ll|'d|'m|n't)(?= |$)")
_NO_SPACE_AFTER = re.compile(r"([(\[{]) ")


def detokenize(tokens: list[str]) -> str:
    """Tokens -> text: no space before closing punctuation and clitics ("man 's ." -> "man's.")."""
    text = " ".join(tokens)
    return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))


def bleu_scores(hypotheses: list[list[str]], references: list[str], tgt_encoder: Any) -> dict:
    """Three corpus BLEU scores of the hypotheses (words), each with its sacreBLEU signature:

    - `bleu_cased`: standard sacreBLEU (`case:mixed`, `tok:13a`) of the detokenized hypotheses
      against the raw references, the figure papers and WMT report. A model trained on
      lower-cased text loses every capital here.
    - `bleu`: the same, but case-insensitive (`case:lc`) when the target encoder lower-cases;
      equal to `bleu_cased` for a cased model.
    - `bleu_tokenized`: the public tutorials' corpus BLEU over lower-cased tokens (references
      tokenized by `tgt_encoder`, BPE pieces joined into words; `tok:none` on that text).
    """
    import sacrebleu

    detok = [detokenize(h) for h in hypotheses]
    out: dict[str, Any] = {}

    def score(name: str, hyps: list[str], refs: list[str], **options: Any) -> None:
        metric = sacrebleu.BLEU(**options)
        out[name] = metric.corpus_score(hyps, [refs]).score
        out[f"{name}_signature"] = str(metric.get_signature())

    score("bleu_cased", detok, references)
    score("bleu", detok, references, lowercase=tgt_encoder.lowercase)
    ref_tokens = [" ".join(tgt_encoder.words(tgt_encoder.tokenize(r))).lower() for r in references]
    hyp_tokens = [" ".join(h).lower() for h in hypotheses]
    score("bleu_tokenized", hyp_tokens, ref_tokens, tokenize="none", force=True)
    return out
