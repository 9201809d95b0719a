"""The values a setting allows (`seqlab.config.setting(..., check=RULE)`): a `Rule` is a test
and the words for it, so every error says what is allowed. Light: no torch import."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

from seqlab.errors import SeqlabError


@dataclasses.dataclass(frozen=True)
class Rule:
    """The values a setting allows: `test(value)`, and `allowed`, the words for them."""

    allowed: str
    test: Callable[[Any], bool]

    def check(self, value: Any, name: str) -> None:
        """SeqlabError "NAME must be ALLOWED, got VALUE" unless `value` is allowed or None."""
        if value is not None and not self.test(value):
            raise SeqlabError(f"{name} must be {self.allowed}, got {value!r}")


def _real(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def number(interval: str = "(-inf, inf)") -> Rule:
    """A finite number in `interval`, written like "[0, 1)" or "(0, inf)"."""
    ends = [x.strip(" [()]") for x in interval.split(",")]
    (lo, hi), closed = map(float, ends), (interval[0] == "[", interval[-1] == "]")
    allowed = "a finite number" if hi == math.inf else f"a number in {interval}"
    if hi == math.inf and lo > -math.inf:
        allowed += f" {'>=' if closed[0] else '>'} {ends[0]}"

    def test(v: Any) -> bool:
        return _real(v) and (v > lo or closed[0] and v == lo) and (v < hi or closed[1] and v == hi)

    return Rule(allowed, test)


def at_least(n: int) -> Rule:
    """An integer >= n (the type, int, is checked with the other types)."""
    return Rule(f"at least {n}", lambda v: _real(v) and v >= n)


FINITE = number()
POSITIVE = number("(0, inf)")
NON_NEGATIVE = number("[0, inf)")
PROPORTION = number("[0, 1)")  # dropout, label smoothing, a held-out share
UNIT = number("[0, 1]")  # a probability, a mixture weight
COUNT = at_least(1)


def one_of(choices: Iterable[Any]) -> Rule:
    """One of `choices` (a field's choices are its rule unless it has another)."""
    return Rule(f"one of {', '.join(map(str, choices))}", lambda v: v in choices)
