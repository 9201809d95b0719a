"""The translation study's README: every run's figures, the gain of tuning per family, how the
tuned settings were chosen, and the assignment's report questions answered from the numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqlab.atomic import write_text_atomic
from seqlab.study.report import markdown

COLUMNS = [
    ("name", "run"),
    ("params", "params"),
    ("epochs", "epochs"),
    ("valid_perplexity", "valid ppl"),
    ("test_perplexity", "test ppl"),
    ("test_bleu_tokenized", "test BLEU (tok.)"),
    ("test_bleu", "test sacreBLEU (lc)"),
    ("train_wall_s", "train s"),
]
TUNING_COLUMNS = [
    ("name", "candidate"),
    ("family", "tried on"),
    ("epochs", "epochs"),
    ("valid_perplexity", "valid ppl"),
    ("train_wall_s", "train s"),
    ("chosen", "chosen"),
]
GAIN_COLUMNS = [
    ("family", "family"),
    ("default_ppl", "valid ppl default"),
    ("tuned_ppl", "valid ppl tuned"),
    ("default_test_ppl", "test ppl default"),
    ("tuned_test_ppl", "test ppl tuned"),
    ("default_bleu", "BLEU default"),
    ("tuned_bleu", "BLEU tuned"),
]


def gains(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per family that has both its default and its tuned run."""
    by_name = {r["name"]: r for r in rows}
    out = []
    for family in dict.fromkeys(r["family"] for r in rows):
        d, t = by_name.get(f"{family}-default"), by_name.get(f"{family}-tuned")
        if d and t:
            out.append(
                {
                    "family": family,
                    "default_ppl": d["valid_perplexity"],
                    "tuned_ppl": t["valid_perplexity"],
                    "default_test_ppl": d["test_perplexity"],
                    "tuned_test_ppl": t["test_perplexity"],
                    "default_bleu": d["test_bleu_tokenized"],
                    "tuned_bleu": t["test_bleu_tokenized"],
                }
            )
    return out


def answers(rows: list[dict[str, Any]]) -> list[str]:
    """The assignment's report questions (performance before and after tuning, for seq2seq and
    for the Transformer; what the comparisons between families show), answered from `rows`."""
    lines = []
    for g in gains(rows):
        better = g["tuned_ppl"] < g["default_ppl"]
        lines.append(
            f"- **{g['family']}**: tuning {'lowered' if better else 'did not lower'} validation "
            f"perplexity ({g['default_ppl']:g} -> {g['tuned_ppl']:g}; test "
            f"{g['default_test_ppl']:g} -> {g['tuned_test_ppl']:g}) and moved test BLEU "
            f"{g['default_bleu']:g} -> "
            f"{g['tuned_bleu']:g}."
        )
    best = {}  # family -> its better run (lower validation perplexity)
    for r in rows:
        if r["family"] not in best or r["valid_perplexity"] < best[r["family"]]["valid_perplexity"]:
            best[r["family"]] = r

    def compare(a: str, b: str, what: str) -> None:
        if a in best and b in best:
            x, y = best[a], best[b]
            lines.append(
                f"- {what}: {b} {y['valid_perplexity']:g} against {a} {x['valid_perplexity']:g} "
                f"validation perplexity (test BLEU {y['test_bleu_tokenized']:g} against "
                f"{x['test_bleu_tokenized']:g}), each family's better run."
            )

    for cell in ("rnn", "lstm"):
        compare(cell, f"{cell}-cosine", f"Cosine attention ({cell.upper()})")
    compare("rnn", "lstm", "LSTM against RNN (no attention)")
    compare("rnn-cosine", "lstm-cosine", "LSTM against RNN (cosine attention)")
    seq2seq = [f for f in best if f != "transformer"]
    if seq2seq and "transformer" in best:
        top = min(seq2seq, key=lambda f: best[f]["valid_perplexity"])
        compare(top, "transformer", "The Transformer against the best seq2seq family")
    return lines


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _tuning_lines(
    tuning: list[dict[str, Any]], rows: list[dict[str, Any]], chosen: set[str], epochs: int
) -> list[str]:
    """How the tuned settings were chosen: the candidates' table and the defaults' figure at the
    same epoch."""
    table = [{**r, "chosen": "yes" if r["name"] in chosen else ""} for r in tuning]
    lines = [
        "## How the tuned settings were chosen",
        "",
        f"Each candidate change was trained for {_epochs(epochs)} on one family of its group (the "
        "seq2seq candidates on LSTM with cosine attention, the Transformer's on the Transformer) "
        "and the lowest validation perplexity chose the tuned setting of every family in the "
        "group. The test split played no part (the figures these short runs have on it are not "
        "shown). A short run ranks as short runs do: a cosine schedule decays within the "
        "candidate's own epochs, and regularisation pays off later in training, so the order "
        "after the full epochs may differ; the tuned runs below show what the choice gave.",
        "",
        markdown(table, TUNING_COLUMNS),
        "",
    ]
    # The defaults train at a constant rate: their epoch-N figure is that of an N-epoch run.
    tried_on = {r["family"] for r in tuning}
    for r in rows:
        at = r["history_valid_perplexity"][epochs - 1 : epochs]
        if r["variant"] == "default" and r["family"] in tried_on and at:
            lines.append(
                f"For comparison, the default {r['family']} run (a constant learning rate) had "
                f"validation perplexity {at[0]:.2f} after {_epochs(epochs)}."
            )
    lines += ["", *[f"- **{r['name']}**: {r['why']}" for r in tuning], ""]
    return lines


def _signatures(rows: list[dict[str, Any]]) -> list[str]:
    """The sacreBLEU signature of each BLEU column, as the runs recorded them."""
    lines = []
    for key, column in (("bleu_tokenized_signature", "test BLEU (tok.)"),
                        ("bleu_signature", "test sacreBLEU (lc)")):  # fmt: skip
        found = sorted({r[key] for r in rows if r.get(key)})
        if found:
            lines.append(f"- {column}: " + ", ".join(f"`{s}`" for s in found))
    return [*lines, ""] if lines else []


def write_report(
    out: Path,
    data: str,
    rows: list[dict[str, Any]],
    tuning: list[dict[str, Any]],
    chosen: set[str],
    tune_epochs: int,
) -> Path:
    """Write OUT/README.md for the finished `rows` and `tuning` rows; `chosen` names the tuning
    candidates that became the tuned settings."""
    total = sum(r["train_wall_s"] for r in rows + tuning)
    lines = [
        "# Translation study: default versus tuned settings",
        "",
        f"Data: {data}. "
        "Validation perplexity is that of the epoch whose weights were tested (the last; the best "
        "under early stopping). Perplexity is teacher-forced (the plain cross-entropy, also for "
        "runs trained with label smoothing); BLEU is on greedy translations of the test split: "
        "tokenized lower-cased corpus BLEU (as the public tutorials report) and sacreBLEU on "
        "detokenized text, lower-cased as the models' output is (`case:lc`; see the signatures "
        "below). Each family keeps its cell, attention and number of epochs. Training "
        f"took {total:,.0f} s in all ({sum(r['train_wall_s'] for r in tuning):,.0f} s of it "
        "tuning).",
        "",
        *_signatures(rows),
        markdown(rows, COLUMNS),
        "",
    ]
    if gains(rows):
        lines += ["## Gain of tuning per family", "", markdown(gains(rows), GAIN_COLUMNS), ""]
    lines += ["## Answers from these numbers", "", *answers(rows), ""]
    lines += ["## What each tuned run changed, and why", ""]
    lines += [f"- **{r['name']}**: {r['why']}" for r in rows if r["variant"] == "tuned"]
    lines += [""]
    if tuning:
        lines += _tuning_lines(tuning, rows, chosen, tune_epochs)
    lines += ["## Commands", "", *[f"    {r['command']}" for r in tuning + rows], ""]
    readme = out / "README.md"
    write_text_atomic(readme, "\n".join(lines))
    return readme
