"""The assignments' questions answered in sentences written from a study's measured results.

Every number and every comparison below is read off the results passed in (tables b-e and the
learning curves), so the README says what this run measured, whatever it measured. Model
choices use validation accuracy; test accuracy is quoted, never used to choose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Result = dict[str, Any]

# Differences in accuracy below this are reported as "about the same" (the spread of repeated
# runs of one model is about this size).
TIE = 0.005
# Bias and variance from the kept epoch: a train-valid accuracy gap above GAP is over-fitting
# (variance); a training accuracy below UNDERFIT is under-fitting (bias).
GAP = 0.05
UNDERFIT = 0.75
# What each optimizer does, for the "why" of the best one (Goodfellow et al. §8.5).
WHY = {
    "adam": "per-parameter step sizes from running averages of the gradient and its square "
    "(momentum plus RMSprop's scaling)",
    "rmsprop": "per-parameter step sizes from a running average of squared gradients",
    "adagrad": "per-parameter step sizes that shrink as squared gradients accumulate",
    "sgd": "one global step size",
}
FACTOR_NAMES = {"depth": "depth", "hidden": "width (hidden size)", "embed": "embedding size"}


def _acc(x: float) -> str:
    return f"{x:.3f}"


def _compare(a: float, b: float) -> str:
    """'higher' / 'lower' / 'about the same' for a against b."""
    if abs(a - b) <= TIE:  # the rule the win and loss counts use too
        return "about the same"
    return "higher" if a > b else "lower"


def _kept(result: Result) -> Result:
    """The history record of the epoch whose weights the run kept."""
    epoch = result.get("selected_epoch")
    return next((h for h in result["history"] if h["epoch"] == epoch), result["history"][-1])


def optimizers(results: Sequence[Result]) -> list[str]:
    """Table b: the best optimizer per cell and why; what the SGD sanity check showed."""
    lines = []
    for cell in dict.fromkeys(r["notes"].get("cell") for r in results):
        runs = [r for r in results if r["notes"].get("cell") == cell]
        sanity = [r for r in runs if "sanity" in r["name"]]
        rest = sorted((r for r in runs if r not in sanity), key=lambda r: -r["valid_accuracy"])
        if not rest:
            continue
        best, others = rest[0], rest[1:]
        name = best["notes"]["optimizer"]
        behind = ", ".join(f"{r['notes']['optimizer']} {_acc(r['valid_accuracy'])}" for r in others)
        line = (
            f"- **{cell}**: {name} reached the best validation accuracy "
            f"({_acc(best['valid_accuracy'])}; test {_acc(best['test_accuracy'])})"
            + (f", ahead of {behind}" if behind else "")
            + "."
        )
        lowest = min(rest, key=lambda r: _kept(r)["train_loss"])
        kind = best["train"].get("optimizer", "")
        if lowest is best:
            line += (
                f" It also fit the training data best (train loss "
                f"{_kept(best)['train_loss']:.3f}): {WHY.get(kind, kind)} moved it furthest in "
                f"{best['epochs_run']} epochs."
            )
        else:
            line += (
                f" {lowest['notes']['optimizer']} fit the training data closer (train loss "
                f"{_kept(lowest)['train_loss']:.3f} against {_kept(best)['train_loss']:.3f}) "
                f"but generalised worse: {name} wins on held-out reviews, not on fitting."
            )
        for r in sanity:
            moved = r["valid_accuracy"] - 0.5
            verdict = (
                "stayed at chance: plain SGD barely moves these weights in that time, which "
                "is what the sanity check is meant to show"
                if moved < 0.05
                else f"learned ({moved:+.3f} over chance), so even plain SGD makes progress here"
            )
            setting = r["notes"]["optimizer"].replace(" (sanity check)", "")
            line += (
                f" The sanity check ({setting}, {r['epochs_run']} epochs) "
                f"reached {_acc(r['valid_accuracy'])} and {verdict}."
            )
        lines.append(line)
    return lines


def gru_vs_lstm(results: Sequence[Result]) -> list[str]:
    """Table b: GRU against LSTM per optimizer, in validation accuracy and training time."""
    by = {(r["notes"].get("cell"), r["notes"].get("optimizer")): r for r in results}
    pairs = [
        (by[("LSTM", o)], by[("GRU", o)])
        for c, o in by
        if c == "LSTM" and ("GRU", o) in by and "sanity" not in by[(c, o)]["name"]
    ]
    if not pairs:
        return []
    wins = sum(g["valid_accuracy"] > lstm["valid_accuracy"] + TIE for lstm, g in pairs)
    losses = sum(g["valid_accuracy"] < lstm["valid_accuracy"] - TIE for lstm, g in pairs)
    best_l = max((p[0] for p in pairs), key=lambda r: r["valid_accuracy"])
    best_g = max((p[1] for p in pairs), key=lambda r: r["valid_accuracy"])
    t_l = sum(p[0]["train_wall_s"] for p in pairs) / len(pairs)
    t_g = sum(p[1]["train_wall_s"] for p in pairs) / len(pairs)
    speed = f"{t_l / t_g:.2f}x faster" if t_g < t_l else f"{t_g / t_l:.2f}x slower" if t_l else ""
    verdict = {
        "higher": "the GRU's best is higher",
        "lower": "the LSTM's best is higher",
        "about the same": f"within {TIE} of each other, a tie",
    }[_compare(best_g["valid_accuracy"], best_l["valid_accuracy"])]
    return [
        f"- Accuracy: the GRU beat the LSTM by more than {TIE} with {wins} of {len(pairs)} "
        f"optimizers, lost with {losses} and tied with the rest; best GRU "
        f"{_acc(best_g['valid_accuracy'])} ({best_g['notes']['optimizer']}), best LSTM "
        f"{_acc(best_l['valid_accuracy'])} ({best_l['notes']['optimizer']}): {verdict}.",
        f"- Time: the GRU trained in {t_g:.0f} s on average against the LSTM's {t_l:.0f} s "
        f"({speed}; three gates instead of four, {best_g['params']:,} against "
        f"{best_l['params']:,} parameters).",
    ]


def sweeps(results: Sequence[Result]) -> list[str]:
    """Table c: how validation accuracy moves with depth, width, embedding size and dropout."""
    lines = []
    for factor in dict.fromkeys(r["notes"].get("factor") for r in results):
        runs = sorted(
            (r for r in results if r["notes"].get("factor") == factor),
            key=lambda r: r["notes"]["value"],
        )
        if len(runs) < 2:
            continue
        if factor == "dropout":
            off, on = runs[0], runs[-1]
            gap_off = _kept(off)["train_accuracy"] - off["valid_accuracy"]
            gap_on = _kept(on)["train_accuracy"] - on["valid_accuracy"]
            verdict = _compare(on["valid_accuracy"], off["valid_accuracy"])
            lines.append(
                f"- **dropout** {on['notes']['value']} on {off['label'].split(',')[0]}: "
                f"validation accuracy {_acc(on['valid_accuracy'])} against "
                f"{_acc(off['valid_accuracy'])} without ({verdict}); the train-valid gap went "
                f"from {gap_off:.3f} to {gap_on:.3f}."
            )
            continue
        best = max(runs, key=lambda r: r["valid_accuracy"])
        first, last = runs[0], runs[-1]
        accs = [r["valid_accuracy"] for r in runs]
        spread = max(accs) - min(accs)
        if spread <= 2 * TIE:
            shape = f"barely moved: all within {spread:.3f}, about the noise of one run"
        elif all(b >= a - TIE for a, b in zip(accs, accs[1:], strict=False)):
            shape = "rose (or held) with every step"
        elif all(b <= a + TIE for a, b in zip(accs, accs[1:], strict=False)):
            shape = "fell (or held) with every step"
        elif best not in (first, last):
            shape = f"peaked at {best['notes']['value']}"
        else:
            shape = "moved up and down"
        points = ", ".join(f"{r['notes']['value']}: {_acc(r['valid_accuracy'])}" for r in runs)
        lines.append(
            f"- **{FACTOR_NAMES.get(factor, factor)}**: validation accuracy {shape} "
            f"({points}); from {first['notes']['value']} to {last['notes']['value']} it changed "
            f"by {last['valid_accuracy'] - first['valid_accuracy']:+.3f} while the parameters "
            f"went from {first['params']:,} to {last['params']:,}. Best: "
            f"{best['notes']['value']} ({_acc(best['valid_accuracy'])})."
        )
    return lines


def compound(results: Sequence[Result]) -> list[str]:
    """Table d: compound against single-factor scaling at equal phi (equal work per token)."""
    scaled = [r for r in results if r["notes"].get("phi")]
    phis = sorted({r["notes"]["phi"] for r in scaled})
    wins, losses, rows = 0, 0, []
    for phi in phis:
        at = [r for r in scaled if r["notes"]["phi"] == phi]
        comp = [r for r in at if r["notes"].get("scaling") == "compound"]
        single = [r for r in at if r["notes"].get("scaling") not in ("compound", None)]
        if not comp or not single:
            continue
        c = max(comp, key=lambda r: r["valid_accuracy"])
        s = max(single, key=lambda r: r["valid_accuracy"])
        wins += c["valid_accuracy"] > s["valid_accuracy"] + TIE
        losses += c["valid_accuracy"] < s["valid_accuracy"] - TIE
        rows.append(
            f"phi {phi}: {_acc(c['valid_accuracy'])} ({c['name']}) against "
            f"{_acc(s['valid_accuracy'])} ({s['name']}, {s['notes']['scaling']} only)"
        )
    if not rows:
        return []
    best = max(results, key=lambda r: r["valid_accuracy"])
    base = next((r for r in results if r["notes"].get("phi") == 0), None)
    gain = (
        f", {best['valid_accuracy'] - base['valid_accuracy']:+.3f} over the base"
        if base is not None
        else ""
    )
    if wins > len(rows) / 2:
        verdict = "beat"
    elif losses > len(rows) / 2:
        verdict = "lost to"
    else:
        verdict = "did not clearly beat"
    return [
        f"- Compound scaling {verdict} single-factor scaling: its best trial was ahead by more "
        f"than {TIE} at {wins} of {len(rows)} values of phi, behind by more at {losses}, and "
        f"within {TIE} (a tie) at the rest ({'; '.join(rows)}).",
        f"- Best trial overall: {best['name']} ({best['notes'].get('scaling', 'base')}, "
        f"validation {_acc(best['valid_accuracy'])}, {best['params']:,} parameters{gain}).",
    ]


def bidirectional(e: Sequence[Result], best: Result | None) -> list[str]:
    """Table e: the bidirectional copy against the model it copies."""
    if not e or best is None:
        return []
    bi = e[0]
    delta = bi["valid_accuracy"] - best["valid_accuracy"]
    helped = "helped" if delta > TIE else "hurt" if delta < -TIE else "made no clear difference"
    ratio = bi["train_wall_s"] / best["train_wall_s"] if best["train_wall_s"] else float("nan")
    return [
        f"- Reading the review in both directions {helped}: validation "
        f"{_acc(bi['valid_accuracy'])} against {_acc(best['valid_accuracy'])} for "
        f"{best['name']} ({delta:+.3f}; test {_acc(bi['test_accuracy'])} against "
        f"{_acc(best['test_accuracy'])}), with {bi['params']:,} against {best['params']:,} "
        f"parameters and {ratio:.1f}x the training time."
    ]


def bias_variance(results: Sequence[Result]) -> list[str]:
    """From the learning curves: which runs under-fit (bias) and which over-fit (variance)."""
    rows = []
    for r in results:
        kept = _kept(r)
        if "train_accuracy" not in kept:
            continue
        rows.append((r, kept["train_accuracy"], kept["train_accuracy"] - r["valid_accuracy"]))
    if not rows:
        return []
    over = sorted((x for x in rows if x[2] > GAP), key=lambda x: -x[2])
    under = sorted((x for x in rows if x[1] < UNDERFIT), key=lambda x: x[1])
    # Over-fitting visible in the curve: the validation loss rose after its minimum.
    rising = [
        r["name"]
        for r, _, _ in rows
        if len(r["history"]) > 1
        and min(h["valid_loss"] for h in r["history"]) < r["history"][-1]["valid_loss"] - 1e-3
    ]

    def named(xs: list, n: int = 3) -> str:
        return "; ".join(
            f"{r['name']} (train {t:.3f}, valid {r['valid_accuracy']:.3f})" for r, t, _ in xs[:n]
        )

    lines = [
        f"- Variance (over-fitting): {len(over)} of {len(rows)} runs ended with training "
        f"accuracy more than {GAP} above validation"
        + (f", the widest gaps {named(over)}" if over else "")
        + f". The validation loss rose after its minimum in {len(rising)} runs"
        + (
            f" ({', '.join(rising[:6])}{', ...' if len(rising) > 6 else ''}): more epochs "
            "would not help those; regularisation (dropout, early stopping) would."
            if rising
            else "."
        ),
        f"- Bias (under-fitting): {len(under)} runs stayed below {UNDERFIT} training accuracy"
        + (f", e.g. {named(under)}" if under else "")
        + ": these need more capacity, more epochs or a better optimizer, not regularisation.",
    ]
    mean_gap = sum(g for _, _, g in rows) / len(rows)
    lines.append(
        f"- On average the kept epoch's training accuracy was {mean_gap:+.3f} above validation."
    )
    return lines


def answers(by_table: dict[str, list[Result]], best: Result | None) -> str:
    """The Markdown "Answers" section for the tables that have results."""
    parts = []
    sections = [
        ("Which optimizer is best, and why? (table b)", optimizers(by_table.get("b", []))),
        ("GRU or LSTM? (table b)", gru_vs_lstm(by_table.get("b", []))),
        ("Depth, width, embedding size and dropout (table c)", sweeps(by_table.get("c", []))),
        ("Does compound scaling beat single-factor scaling? (table d)",
         compound(by_table.get("d", []))),
        ("Does reading both directions help? (table e)",
         bidirectional(by_table.get("e", []), best)),
        ("Bias or variance? (table f, every run's kept epoch)",
         bias_variance([r for t in "abcde" for r in by_table.get(t, [])])),
    ]  # fmt: skip
    for title, lines in sections:
        if lines:
            parts += [f"**{title}**", "", *lines, ""]
    if not parts:
        return ""
    head = [
        "## Answers",
        "",
        "Written by `seqlab.study.answers` from the numbers above (validation accuracy of the "
        "kept epoch; test accuracy only quoted), so they change when the results do.",
        "",
    ]
    return "\n".join(head + parts).rstrip() + "\n"
