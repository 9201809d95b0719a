"""The uuml R package's course examples (`transformer_example`, `rnn_example`), read from .rda.

The original files live in `<data_dir>/uuml/<name>.rda` (see the shared data README); they are read
with the maintained `rdata` parser, so the numbers are exactly R's.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqlab.data.paths import data_dir as resolve_data_dir
from seqlab.errors import DataNotFoundError, SeqlabError

# The objects of each example, by their R names (a check that the file is the one we expect).
UUML_OBJECTS = {
    "transformer_example": ("embeddings", "Wq", "Wk", "Wv", "W0"),
    "rnn_example": ("embeddings", "W", "U", "V", "b", "c"),
}


@dataclass(frozen=True)
class UumlExample:
    """A course example: arrays by their R names (`ex["Wq"]`, as R's `ex$Wq`) and the row tokens."""

    name: str
    arrays: dict[str, np.ndarray] = field(repr=False)
    tokens: tuple[str, ...]  # row names of `embeddings`: the, quick, brown, …

    def __getitem__(self, key: str) -> np.ndarray:
        """The array with R name `key`."""
        try:
            return self.arrays[key]
        except KeyError:
            raise KeyError(
                f"{self.name} has no array {key!r}; it has {sorted(self.arrays)}"
            ) from None


def load_uuml(name: str, data_dir: str | os.PathLike | None = None) -> UumlExample:
    """Read `transformer_example` or `rnn_example` from `<data_dir>/uuml/<name>.rda`."""
    if name not in UUML_OBJECTS:
        raise SeqlabError(f"unknown uuml example {name!r}; choose one of {sorted(UUML_OBJECTS)}")
    path = Path(resolve_data_dir(data_dir)) / "uuml" / f"{name}.rda"
    if not path.is_file():
        raise DataNotFoundError(
            f"{path} not found; point --data-dir or $SEQLAB_DATA at the folder that holds uuml/"
        )
    import rdata  # imported here: it pulls in pandas and xarray, which `seqlab --help` never needs

    try:
        with warnings.catch_warnings():  # rdata warns before failing on non-R files; we raise below
            warnings.simplefilter("ignore")
            objects = rdata.read_rda(path)
    except Exception as e:  # rdata raises several types for corrupt or non-R files
        raise DataNotFoundError(f"{path} is not a readable R data file: {e}") from e
    if name not in objects:
        raise DataNotFoundError(f"{path} holds {sorted(objects)}, not the R object {name!r}")
    return _to_example(name, objects[name], path)


def _to_example(name: str, obj: dict, path: Path) -> UumlExample:
    """Turn rdata's conversion of the R list into plain float64 arrays and the row tokens."""
    missing = [key for key in UUML_OBJECTS[name] if key not in obj]
    if missing:
        raise DataNotFoundError(f"{path}: {name} lacks the arrays {missing}")
    arrays, tokens = {}, ()
    for key in UUML_OBJECTS[name]:
        value = obj[key]
        # rdata returns arrays with dimnames as xarray.DataArray (dims dim_0, dim_1, …) and the
        # others as plain ndarrays, already in R's index order (x[i, j, k] is R's x[i+1, j+1, k+1]).
        if hasattr(value, "dims") and key == "embeddings":
            tokens = tuple(str(t) for t in value.coords[value.dims[0]].values)
        arrays[key] = np.asarray(value, dtype=np.float64)
    if len(tokens) != arrays["embeddings"].shape[0]:
        raise DataNotFoundError(f"{path}: {name}$embeddings has no row names (the tokens)")
    return UumlExample(name, arrays, tokens)
