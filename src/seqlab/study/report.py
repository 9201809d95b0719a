"""Study tables (Markdown + CSV), the Pareto front, and the plots (matplotlib, Agg backend)."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLUMNS = [
    ("name", "run"),
    ("label", "model"),
    ("max_length", "maxlen"),
    ("optimizer", "optimizer"),
    ("lr", "lr"),
    ("params", "params"),
    ("epochs_run", "epochs"),
    ("valid_accuracy", "valid acc"),
    ("test_accuracy", "test acc"),
    ("train_wall_s", "train s"),
]
CURVE_KEYS = ["train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "lr", "time_s"]


def pareto_front(params: Sequence[float], scores: Sequence[float]) -> list[int]:
    """Indices of the runs no other run beats: none has fewer (or equal) params and a higher
    score, or equal score with fewer params. Sorted by params."""
    order = sorted(range(len(params)), key=lambda i: (params[i], -scores[i]))
    front, best = [], float("-inf")
    for i in order:
        if scores[i] > best:
            front.append(i)
            best = scores[i]
    return front


def row(result: dict[str, Any], notes: Sequence[str] = ()) -> dict[str, Any]:
    """The CSV row of one result: the common columns, the table's notes, the command."""
    out = {
        "name": result["name"],
        "label": result["label"],
        "model": result["model"]["model"],
        "layers": result["model"].get("layers", 1),
        "hidden": result["model"].get("hidden"),
        "embed": result["model"].get("embed"),
        "bidirectional": bool(result["model"].get("bidirectional", False)),
        "max_length": result["max_length"],
        "optimizer": result["train"].get("optimizer"),
        "lr": result["train"].get("lr"),
        "params": result["params"],
        "epochs_run": result["epochs_run"],
        "selected_epoch": result["selected_epoch"],
        "valid_accuracy": round(result["valid_accuracy"], 4),
        "test_accuracy": round(result["test_accuracy"], 4),
        "train_wall_s": result["train_wall_s"],
    }
    out |= {k: result["notes"].get(k) for k in notes}
    out["command"] = result["command"]
    return out


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows (dicts with the same keys) as CSV."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def markdown(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A Markdown table of `rows` with (key, header) `columns`; numbers right-aligned."""

    def cell(key: str, v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4f}" if key.endswith("accuracy") else f"{v:g}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return "" if v is None else str(v)

    numeric = [isinstance(rows[0].get(k), (int, float)) for k, _ in columns]
    head = "| " + " | ".join(h for _, h in columns) + " |"
    rule = "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"
    body = ["| " + " | ".join(cell(k, r.get(k)) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def curve_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-epoch numbers of every run, one row per (run, epoch): table f's CSV."""
    return [
        {"name": r["name"], "table": r["table"], "epoch": h["epoch"]}
        | {k: h.get(k) for k in CURVE_KEYS}
        for r in results
        for h in r["history"]
    ]


# -- plots ------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    return plt


def _log_x(ax: Any, plt: Any, ticks: Sequence[float] | None = None) -> None:
    """Log-scale x axis with plain numbers (matplotlib's minor labels overlap on short ranges)."""
    from matplotlib.ticker import LogLocator

    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    if ticks is not None:
        ax.set_xticks(ticks)
    else:  # 1, 2, 5 x 10^k: a label even when all points lie within one decade
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: _compact(x)))


def _compact(x: float) -> str:
    """170000 -> "170k", 1200000 -> "1.2M": short tick labels."""
    if x >= 1e6:
        return f"{x / 1e6:g}M"
    return f"{x / 1e3:g}k" if x >= 1e4 else f"{x:g}"


def _plain_y(ax: Any) -> None:
    """Plain y tick labels: no offset ("+8.6e-1") or scientific notation on close values."""
    from matplotlib.ticker import ScalarFormatter

    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    ax.yaxis.set_major_formatter(formatter)


def plot_curves(path: Path, result: dict[str, Any]) -> None:
    """Train/valid loss and accuracy per epoch of one run (Keras' plot(history)); the epoch
    whose weights the run kept (early stopping) is marked."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    history = result["history"]
    epochs = [h["epoch"] for h in history]
    kept = result.get("selected_epoch", epochs[-1])
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for split, style in (("train", "o--"), ("valid", "o-")):
            ax.plot(epochs, [h[f"{split}_{metric}"] for h in history], style, label=split)
        if kept != epochs[-1]:
            ax.axvline(kept, color="grey", linestyle=":", label=f"kept epoch {kept}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _plain_y(ax)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"{result['name']}: {result['label']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


KIND_COLORS = {"compound": "tab:red", "width": "tab:blue", "embedding": "tab:green"}
KIND_COLORS |= {"depth": "tab:purple", "none": "black"}


def plot_pareto(path: Path, results: list[dict[str, Any]]) -> list[int]:
    """Validation accuracy against parameters (log scale) with the Pareto front, each point
    coloured by how it scales the base, the front's points named; returns the front's indices.

    The front uses validation accuracy: choosing models on the test set would leak it.
    """
    plt = _pyplot()
    params = [r["params"] for r in results]
    scores = [r["valid_accuracy"] for r in results]
    front = pareto_front(params, scores)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    kinds = [r["notes"].get("scaling", "none") for r in results]
    for kind in dict.fromkeys(kinds):
        idx = [i for i, k in enumerate(kinds) if k == kind]
        ax.scatter([params[i] for i in idx], [scores[i] for i in idx], s=18,
                   color=KIND_COLORS.get(kind, "tab:gray"), label=kind)  # fmt: skip
    ax.step([params[i] for i in front], [scores[i] for i in front], "k-", where="post", lw=0.8)
    ax.scatter([params[i] for i in front], [scores[i] for i in front], s=60,
               facecolors="none", edgecolors="k", label="Pareto front")  # fmt: skip
    # The front's points are numbered on the plot and named in a box: names written beside
    # points that sit close together overlap and cannot be read.
    names = []
    floor = statistics.median(scores) - 0.05  # see below
    for n, i in enumerate(front, 1):
        ax.annotate(str(n), (params[i], max(scores[i], floor)), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=7, fontweight="bold")  # fmt: skip
        names.append(f"{n} {results[i]['name']}: {scores[i]:.3f}, {params[i] / 1e3:,.0f}k params")
    # A run that failed to train (far below the rest) would squash every other point into a
    # line: it is drawn on the lower edge as a triangle, with its value.
    low = [i for i, v in enumerate(scores) if v < floor]
    if low:
        ax.set_ylim(bottom=floor - 0.005, top=max(scores) + 0.01)
        ax.scatter([params[i] for i in low], [floor] * len(low), marker="v", s=30, color="k",
                   label=f"below {floor:.3f} (value named)")  # fmt: skip
        for i in low:
            ax.annotate(f"{results[i]['name']} {scores[i]:.3f}", (params[i], floor),
                        textcoords="offset points", xytext=(6, 2), fontsize=6)  # fmt: skip
    ax.text(
        0.99,
        0.02,
        "\n".join(names),
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=6.5,
        bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"},
    )
    _log_x(ax, plt)
    _plain_y(ax)
    ax.set_xlabel("parameters")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Compound scaling: accuracy against size (front on validation accuracy)")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return front


def plot_bars(path: Path, rows: list[dict[str, Any]], group: str, bar: str) -> None:
    """Grouped bars of test accuracy: one group per `group` value, one bar per `bar` value,
    each labelled with its value, and the 0.5 of guessing drawn across."""
    plt = _pyplot()
    groups = list(dict.fromkeys(r[group] for r in rows))
    bars = list(dict.fromkeys(r[bar] for r in rows))
    width = 0.8 / len(bars)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for j, b in enumerate(bars):
        values = {r[group]: r["test_accuracy"] for r in rows if r[bar] == b}
        xs = [i + j * width for i, g in enumerate(groups) if g in values]
        drawn = ax.bar(xs, [values[g] for g in groups if g in values], width, label=str(b))
        ax.bar_label(drawn, fmt="%.3f", fontsize=7, padding=1)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8, label="chance (0.5)")
    ticks = [i + 0.4 - width / 2 for i in range(len(groups))]
    ax.set_xticks(ticks, groups, rotation=15, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title("Test accuracy per optimizer")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_sweeps(path: Path, rows: list[dict[str, Any]]) -> None:
    """Table c: validation and test accuracy against each swept factor (depth, hidden,
    embedding, dropout), on one shared accuracy axis so the panels compare."""
    plt = _pyplot()
    factors = list(dict.fromkeys(r["factor"] for r in rows))
    fig, axes = plt.subplots(
        1, len(factors), figsize=(3 * len(factors), 3.2), squeeze=False, sharey=True
    )
    for ax, factor in zip(axes[0], factors, strict=True):
        picked = sorted(
            (r["value"], r["valid_accuracy"], r["test_accuracy"])
            for r in rows
            if r["factor"] == factor
        )
        values = [v for v, _, _ in picked]
        ax.plot(values, [a for _, a, _ in picked], "o-", label="valid")
        ax.plot(values, [t for _, _, t in picked], "s--", label="test", alpha=0.7)
        if factor in ("hidden", "embed") and min(values) > 0:
            _log_x(ax, plt, ticks=values)
        else:
            ax.set_xticks(values)
        ax.set_xlabel(factor)
        ax.set_title(factor, fontsize=9)
        _plain_y(ax)
    axes[0][0].set_ylabel("accuracy")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("One factor at a time from the base model", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
