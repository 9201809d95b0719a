"""The parsers and rules of the run configs' options that need more than a type: cutoff and
width lists, split ratios, subsets and the multi-label decision threshold. Light: no torch
import (seqlab.tasks.configs, which the CLI reads at start-up, uses them)."""

from __future__ import annotations

import argparse
import math

from seqlab.config import Rule


def parse_cutoffs(text: str) -> list[int] | None:
    """--adaptive: comma-separated increasing word ranks, or 'none'."""
    if text.lower() == "none":
        return None
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected cutoffs like 2000,10000: {text!r}") from None


def parse_widths(text: str) -> list[int]:
    """--widths: comma-separated convolution widths, each >= 1."""
    try:
        widths = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths like 3,4,5: {text!r}") from None
    if min(widths) < 1:
        raise argparse.ArgumentTypeError(f"widths must be >= 1: {text!r}")
    return widths


def _ratio(text: str) -> bool:
    """Whether `text` is "official" or "a:b:c" shares (plain numbers) with train and test > 0."""
    parts = text.split(":")
    ok = len(parts) == 3 and all(p.replace(".", "", 1).isdigit() for p in parts)
    return text == "official" or ok and float(parts[0]) * float(parts[2]) > 0


SPLIT = Rule("'official' or train:valid:test shares like 7:1:2 (train and test > 0)", _ratio)
# --limit: a count of texts (an int), or a fraction of each split (a float; nan and inf fail)
SUBSET = Rule("a count or a fraction in (0, 1]", lambda v: 0 < v <= 1 or type(v) is int and v > 0)


def parse_threshold(text: str) -> float | str:
    """--threshold: a probability ("0.3") or "tune" (per-label thresholds chosen on valid)."""
    if text.strip().lower() == "tune":
        return "tune"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number like 0.3 or 'tune': {text!r}"
        ) from None


def _allowed_threshold(v: object) -> bool:
    real = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    return v == "tune" or real and 0 < v < 1  # type: ignore[operator]


# --threshold: where a label's sigmoid counts as predicted (p > threshold), or "tune"
THRESHOLD = Rule("a probability in (0, 1) or 'tune'", _allowed_threshold)
