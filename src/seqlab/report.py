"""Evaluation reports: per-class metrics and confusion matrices (text and PNG), attention plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def report_table(rows: list[dict]) -> str:
    """Per-class rows of `seqlab.train.metrics.class_report` as a Markdown table."""
    lines = [
        "| class | support | accuracy | precision | recall | F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        values = " | ".join(f"{r[k]:.4f}" for k in ("accuracy", "precision", "recall", "f1"))
        lines.append(f"| {r['class']} | {r['support']:,} | {values} |")
    return "\n".join(lines)


def confusion_table(confusion: list[list[int]], names: list[str]) -> str:
    """The confusion matrix as a Markdown table: rows are true classes, columns predictions."""
    lines = ["| true \\ predicted | " + " | ".join(names) + " |"]
    lines.append("| --- |" + " ---: |" * len(names))
    for name, row in zip(names, confusion, strict=True):
        lines.append(f"| {name} | " + " | ".join(f"{v:,}" for v in row) + " |")
    return "\n".join(lines)


def _pyplot():
    """matplotlib.pyplot on the Agg backend (files only; never a window), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    """Lay out `fig`, write it to `path` as a PNG (making its folder) and close it."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def plot_confusion(path: Path, confusion: list[list[int]], names: list[str]) -> Path:
    """A heatmap of the confusion matrix, each row normalised to the share of its true class,
    with the counts written in the cells (up to 20 classes)."""
    import numpy as np

    plt = _pyplot()
    counts = np.asarray(confusion, dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    K = len(names)
    size = max(4.0, 0.45 * K + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix (row share, counts)")
    ax.set_xticks(range(K), names, rotation=90 if K > 6 else 0)
    ax.set_yticks(range(K), names)
    if K <= 20:
        for i in range(K):
            for j in range(K):
                color = "white" if shares[i, j] > 0.5 else "black"
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", color=color)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, path)


def plot_attention(
    path: Path, weights: list[list[float]], source: list[str], target: list[str], title: str
) -> Path:
    """A heatmap of attention weights (target rows x source columns), one row per output word."""
    import numpy as np

    plt = _pyplot()
    w = np.asarray(weights, dtype=float)
    fig, ax = plt.subplots(
        figsize=(max(4.0, 0.45 * len(source) + 2), max(3.0, 0.4 * len(target) + 1.5))
    )
    image = ax.imshow(w, cmap="viridis", vmin=0, vmax=max(float(w.max()), 1e-9), aspect="auto")
    ax.set_xticks(range(len(source)), source, rotation=60, ha="right")
    ax.set_yticks(range(len(target)), target)
    ax.set(xlabel="source", ylabel="translation", title=title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    return _save(fig, path)


def plot_curves(path: Path, history: list[dict[str, Any]], test: dict[str, float]) -> Path:
    """Loss and perplexity per epoch (train, valid) with the final test value: one PNG."""
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]
    fig, axes = _pyplot().subplots(1, 2, figsize=(9, 3.5))
    for ax, key in zip(axes, ("loss", "perplexity"), strict=True):
        for split in ("train", "valid"):
            values = [r.get(f"{split}_{key}") for r in history]
            if all(v is not None for v in values) and values:
                ax.plot(epochs, values, marker="o", label=split)
        ax.axhline(test[key], color="gray", linestyle="--", label=f"test {test[key]:.2f}")
        ax.set(title=key, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        ax.legend()
    return _save(fig, path)
