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


def attention_steps(data_dir: str | os.PathLike | None = None) -> dict:
    """The course's attention exercise, computed by seqlab.reference: head 1 on the first three
    tokens (Q, K, V, scores, weights, Z), multi-head self-attention on them and on all nine
    (each head's weights, the heads' outputs side by side, and that times W0). What `seqlab
    examples attention` prints and `GET /v1/examples/attention` returns."""
    from seqlab.reference import attention, multi_head_self_attention, qkv

    ex = load_uuml("transformer_example", data_dir)
    X, tokens = ex["embeddings"], list(ex.tokens)  # (T=9, C=5)
    Wq, Wk, Wv, W0 = ex["Wq"], ex["Wk"], ex["Wv"], ex["W0"]  # (C, D, H) and (H·Dv, C)
    X3 = X[:3]
    # Head 1 is R's W[, , 1], i.e. W[:, :, 0].
    Q, K, V, _ = qkv(X3, Wq[:, :, 0], Wk[:, :, 0], Wv[:, :, 0])
    head = attention(Q, K, V)
    scores = Q @ K.T / np.sqrt(K.shape[1])  # (3, 3), before the softmax
    H = Wq.shape[2]
    heads = [attention(*qkv(X, Wq[:, :, h], Wk[:, :, h], Wv[:, :, h])[:3]) for h in range(H)]
    every = multi_head_self_attention(X, Wq, Wk, Wv, W0)
    return {
        "tokens": tokens,
        "X": X,
        "head": {
            "tokens": tokens[:3],
            "Q": Q,
            "K": K,
            "V": V,
            "scores": scores,
            "weights": head.attention,
            "Z": head.Z,
        },  # fmt: skip
        "first_three": {
            "tokens": tokens[:3],
            "output": multi_head_self_attention(X3, Wq, Wk, Wv, W0).Z,
        },
        "multi_head": {
            "tokens": tokens,
            "weights": every.attention,  # (H, T, T)
            "Z": np.concatenate([h.Z for h in heads], axis=1),  # (T, H·Dv), head 1 first
            "output": every.Z,  # (T, C) = Z W0
        },
    }


def rnn_steps(data_dir: str | os.PathLike | None = None) -> dict:
    """The course's RNN exercise, computed by seqlab.reference: the first token's step from
    h_0 = 0 (a_t, h_t, ŷ_t), then the layer over all tokens (h_t and ŷ_t per token). What
    `seqlab examples rnn` prints and `GET /v1/examples/rnn` returns."""
    from seqlab.reference import activation, output_rnn, rnn_layer, rnn_unit, softmax

    ex = load_uuml("rnn_example", data_dir)
    X, tokens = ex["embeddings"], list(ex.tokens)  # (T=9, C=5)
    W, U, V, b, c = (ex[k] for k in ("W", "U", "V", "b", "c"))
    h0 = np.zeros(W.shape[0])  # the course starts from h_0 = 0
    a_t = rnn_unit(h0, X[0], W, U, b)
    h_t = activation(a_t)
    out = rnn_layer(X, W, V, U, b, c)
    return {
        "tokens": tokens,
        "X": X,
        "params": {"W": W, "U": U, "V": V, "b": b, "c": c},
        "first": {"token": tokens[0], "a": a_t, "h": h_t, "y_hat": softmax(output_rnn(h_t, V, c))},
        "h": out.h,  # (T, n)
        "y_hat": out.y_hat,  # (T, K)
    }
