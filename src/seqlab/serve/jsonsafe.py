"""The one way the server makes a value JSON-safe before answering it.

JSON has no NaN or infinities, and FastAPI's encoder knows neither numpy nor torch. `json_safe`
is what `/v1/models` (`app.describe`), `runs.read_run` and the explorer's endpoints (`pages`)
answer through. Importing this module imports neither numpy, torch nor FastAPI.
"""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """`value` as JSON can carry it: NaN and infinities as None; dicts (keys as strings),
    lists and tuples item by item; arrays, tensors and numpy scalars (anything with a
    `tolist`) as plain lists and numbers; None, booleans, integers and strings as they are;
    any other object as its string."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return json_safe(tolist())
    return str(value)
