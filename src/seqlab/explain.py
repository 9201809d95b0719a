"""What a model looked at: attention weights and recurrent states of one pass, for every model.

`with record(model) as recording:` runs whatever the caller runs, and collects

- every `seqlab.nn.attention.MultiHeadAttention` call's weights (B, H, T, S): for the length of
  the block the modules run their scratch backend (the fused kernel keeps its weights), which
  computes the same outputs, and get their own backend back afterwards;
- every `Seq2SeqAttention` call's weights (B, T, S), as a "cross" map with one head;
- every recurrent layer's (`seqlab.nn.recurrent`: RNN, LSTM, GRU) inputs, initial state and
  lengths. The layer runs as it is (fused kernels included); `Recording.traces` then re-runs
  each layer and direction step by step from those inputs with the cells' own weights
  (`seqlab.nn.cells`, PyTorch's gate order), so the hidden states come with the LSTM's input,
  forget, candidate and output gates (c_t = f c_{t-1} + i g, h_t = o tanh(c_t)) and the GRU's
  reset, update and candidate (h_t = (1 - z) n + z h_{t-1}, torch's convention).

Traces are those of an eval-mode pass (no dropout between stacked layers). `attention_maps`
and `recurrent_traces` turn one batch row of a recording into the JSON of the explain contract
(token strings for queries and keys, weights rounded to 7 significant digits). Models whose
attention is not built from these modules (a Hugging Face encoder) record nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from seqlab.errors import SeqlabError
from seqlab.nn.attention import MultiHeadAttention, Seq2SeqAttention
from seqlab.nn.cells import GRUCell, LSTMCell
from seqlab.nn.recurrent import GRU, LSTM, RNN, _real_steps, _Recurrent, _reverse_padded

CELLS = {RNN: "rnn", LSTM: "lstm", GRU: "gru"}
DIRECTIONS = ("forward", "backward")
# The contract's gate names, in the cells' row order (PyTorch's: LSTM i, f, g, o; GRU r, z, n).
GATES = {
    "lstm": ("input", "forget", "candidate", "output"),
    "gru": ("reset", "update", "candidate"),
}


class TooManyTokens(SeqlabError):
    """An explanation over more tokens than the caller allows (`max_tokens`)."""

    def __init__(self, what: str, tokens: int, limit: int) -> None:
        super().__init__(f"{what}: {tokens} tokens to explain, more than {limit}")
        self.tokens, self.limit = tokens, limit


def check_tokens(what: str, tokens: int, limit: int | None) -> None:
    """TooManyTokens if `tokens` exceeds `limit` (None: no limit)."""
    if limit is not None and tokens > limit:
        raise TooManyTokens(what, tokens, limit)


@dataclass
class AttentionRecord:
    """One attention call: the module's name, its layer index (the last number in the name,
    else 0), "self" or "cross", and the weights (B, H, T, S)."""

    module: str
    layer: int
    kind: str
    weights: Tensor


@dataclass
class RecurrentRecord:
    """One recurrent layer call: the inputs (B, T, C, batch-first), the initial state as a
    tuple of (layers*dirs, B, H) tensors (None: zeros) and the lengths (B,) (None: all T)."""

    module: str
    layer: _Recurrent
    inputs: Tensor
    state: tuple[Tensor, ...] | None
    lengths: Tensor | None


@dataclass
class Trace:
    """One layer and direction of a recurrent call: hidden states (B, T, H) in token order
    (the backward direction's state at t has read tokens T-1..t) and the gates, each (B, T, H)."""

    module: str
    layer: int
    direction: str
    cell: str
    hidden: Tensor
    gates: dict[str, Tensor]
    lengths: Tensor


@dataclass
class Recording:
    """What `record` collected, in call order."""

    attention: list[AttentionRecord] = field(default_factory=list)
    recurrent: list[RecurrentRecord] = field(default_factory=list)

    def traces(self) -> list[Trace]:
        """Every recurrent call re-run step by step: one Trace per layer and direction."""
        return [t for r in self.recurrent for t in _traces(r)]


def _layer_index(name: str) -> int:
    """The last integer component of a module name ("decoder.layers.1.self_attn" -> 1), else 0."""
    numbers = [int(part) for part in name.split(".") if part.isdigit()]
    return numbers[-1] if numbers else 0


@contextmanager
def record(model: nn.Module) -> Iterator[Recording]:
    """Collect the attention weights and recurrent inputs of every call inside the block (see
    the module docstring); the model's backends and methods are as before afterwards."""
    recording = Recording()
    handles, backends, patched = [], [], []

    def on_attention(name: str) -> Callable:
        def hook(module: nn.Module, args: tuple, kwargs: dict, out: Any) -> None:
            weights = out[1]
            if isinstance(module, Seq2SeqAttention):
                kind, weights = "cross", weights[:, None]  # (B, 1, T, S): one head
            else:
                key = args[1] if len(args) > 1 else kwargs.get("key")
                kind = "self" if key is None or key is args[0] else "cross"
            recording.attention.append(
                AttentionRecord(name, _layer_index(name), kind, weights.detach().float())
            )

        return hook

    def keep(name: str, layer: _Recurrent, inputs: Tensor, state: Any, lengths: Any) -> None:
        x = inputs if layer.batch_first else inputs.transpose(0, 1)
        parts = None
        if state is not None:
            parts = tuple(s.detach() for s in (state if isinstance(state, tuple) else (state,)))
        lengths = None if lengths is None else torch.as_tensor(lengths).long()
        recording.recurrent.append(RecurrentRecord(name, layer, x.detach(), parts, lengths))

    def on_recurrent(name: str) -> Callable:
        def hook(module: _Recurrent, args: tuple, kwargs: dict) -> None:
            names = ("inputs", "state", "lengths")
            given = {**dict(zip(names, args, strict=False)), **kwargs}
            keep(name, module, given["inputs"], given.get("state"), given.get("lengths"))

        return hook

    def outputs_of(name: str, layer: _Recurrent) -> Callable:
        # `outputs` is a plain method (classifiers call it), so no module hook sees it.
        def outputs(inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
            keep(name, layer, inputs, None, lengths)
            return type(layer).outputs(layer, inputs, lengths)

        return outputs

    try:
        for name, module in model.named_modules():
            if isinstance(module, MultiHeadAttention):
                backends.append((module, module.backend))
                module.backend = "scratch"
            if isinstance(module, MultiHeadAttention | Seq2SeqAttention):
                hook = on_attention(name)
                handles.append(module.register_forward_hook(hook, with_kwargs=True))
            elif isinstance(module, _Recurrent):
                hook = on_recurrent(name)
                handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
                module.outputs = outputs_of(name, module)
                patched.append(module)
        yield recording
    finally:
        for handle in handles:
            handle.remove()
        for module, backend in backends:
            module.backend = backend
        for module in patched:
            del module.outputs


def _lstm_step(cell: LSTMCell, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, ...]:
    """One LSTM step from the cell's weights: (h', c', gates i, f, g, o), each (B, H)."""
    z = x @ cell.U.T + cell.b + h @ cell.W.T  # (B, 4H), rows in PyTorch's order i, f, g, o
    zi, zf, zg, zo = z.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.tanh(zg), torch.sigmoid(zo)
    c = f * c + i * g
    return o * torch.tanh(c), c, i, f, g, o


def _gru_step(cell: GRUCell, x: Tensor, h: Tensor) -> tuple[Tensor, ...]:
    """One GRU step (reset-after form, as torch.nn.GRU): (h', gates r, z, n), each (B, H)."""
    xr, xz, xn = (x @ cell.U.T + cell.b).chunk(3, dim=1)
    hr, hz, hn = (h @ cell.W.T + cell.b_W).chunk(3, dim=1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h, r, z, n


def _run_direction(
    cell: nn.Module, kind: str, seq: Tensor, h: Tensor, c: Tensor | None, mask: Tensor
) -> tuple[Tensor, dict[str, Tensor]]:
    """seq (B, T, C) from state h (and c) (B, H) -> hidden (B, T, H) and gates {name: (B, T, H)};
    past a row's length its state is carried unchanged (as the layers do)."""
    hidden, gates = [], []
    for t in range(seq.size(1)):
        x, real = seq[:, t], mask[:, t, None]  # (B, C), (B, 1)
        if kind == "lstm":
            new_h, new_c, *g = _lstm_step(cell, x, h, c)
            c = torch.where(real, new_c, c)
        elif kind == "gru":
            new_h, *g = _gru_step(cell, x, h)
        else:
            new_h, g = cell(x, h), []
        h = torch.where(real, new_h, h)
        hidden.append(new_h * real)
        gates.append(g)
    names = GATES.get(kind, ())
    stacked = {name: torch.stack([g[k] for g in gates], dim=1) for k, name in enumerate(names)}
    return torch.stack(hidden, dim=1), stacked


@torch.no_grad()
def _traces(r: RecurrentRecord) -> list[Trace]:
    """Re-run a recorded recurrent call layer by layer, direction by direction."""
    layer, x = r.layer, r.inputs.float()
    B, T, _ = x.shape
    kind = CELLS[type(layer)] if type(layer) in CELLS else "rnn"
    lengths = r.lengths if r.lengths is not None else torch.full((B,), T, dtype=torch.long)
    lengths = lengths.to(x.device)
    mask, reverse_index = _real_steps(lengths, T)  # (B, T), (B, T)
    shape = (layer.num_layers * layer.num_directions, B, layer.hidden_size)
    h0 = r.state[0].float() if r.state is not None else x.new_zeros(shape)
    c0 = r.state[1].float() if r.state is not None and len(r.state) == 2 else x.new_zeros(shape)
    traces, layer_input = [], x
    for depth in range(layer.num_layers):
        outputs = []
        for direction in range(layer.num_directions):
            k = depth * layer.num_directions + direction
            backward = direction == 1
            seq = _reverse_padded(layer_input, reverse_index) if backward else layer_input
            cell = layer.cells[k]
            hidden, gates = _run_direction(cell, kind, seq, h0[k], c0[k], mask)
            if backward:  # back to token order
                hidden = _reverse_padded(hidden, reverse_index)
                gates = {n: _reverse_padded(g, reverse_index) for n, g in gates.items()}
            outputs.append(hidden)
            where = DIRECTIONS[direction]
            traces.append(Trace(r.module, depth, where, kind, hidden, gates, lengths))
        layer_input = torch.cat(outputs, dim=2)  # (B, T, dirs*H)
    return traces


def rounded(values: Tensor) -> list:
    """A tensor as nested lists of plain floats, 7 significant digits (NaN never occurs in
    softmax weights or bounded states; it is refused all the same)."""
    if not bool(torch.isfinite(values).all()):
        raise ValueError("explain: non-finite values")
    if values.dim() == 0:
        return float(f"{float(values):.7g}")
    if values.dim() == 1:
        return [float(f"{v:.7g}") for v in values.tolist()]
    return [rounded(v) for v in values]


TokensFor = Callable[[str], Sequence[str]] | Sequence[str]


def _lookup(tokens: Any, name: str) -> list[str]:
    """The token strings of a module: `tokens(name)`, or the one list for every module."""
    return list(tokens(name) if callable(tokens) else tokens)


def _last_calls(records: list) -> list:
    """One record per module, the last call of each (a module run twice in the pass, e.g. an
    encoder re-run over a longer padding, keeps the run whose output the model used)."""
    last = {r.module: i for i, r in enumerate(records)}
    return [r for i, r in enumerate(records) if last[r.module] == i]


def _order(model: nn.Module | None, records: list) -> list:
    """Records in the model's module order (`named_modules`), call order among equals."""
    if model is None:
        return records
    rank = {name: i for i, (name, _) in enumerate(model.named_modules())}
    return sorted(records, key=lambda r: rank.get(r.module, len(rank)))


def attention_maps(
    recording: Recording,
    row: int,
    queries: TokensFor,
    keys: TokensFor | None = None,
    model: nn.Module | None = None,
) -> list[dict[str, Any]]:
    """The contract's attention maps of batch row `row`: one per attention module, in module
    order. `queries(name)` / `keys(name)` give the token strings of a module's queries and keys
    (or one list for all; keys default to the queries; a "cross" map's keys are `keys`); the
    weights are cut to them (beyond them lie only padding)."""
    keys = queries if keys is None else keys
    maps = []
    for r in _order(model, _last_calls(recording.attention)):
        q = _lookup(queries, r.module)
        k = _lookup(keys if r.kind == "cross" else queries, r.module)
        w = r.weights[row, :, : len(q), : len(k)]  # (H, T, S)
        maps.append(
            {
                "module": r.module,
                "layer": r.layer,
                "kind": r.kind,
                "heads": int(w.size(0)),
                "queries": q[: w.size(1)],
                "keys": k[: w.size(2)],
                "weights": rounded(w),
            }
        )
    return maps


def recurrent_traces(
    recording: Recording, row: int, tokens: TokensFor, model: nn.Module | None = None
) -> list[dict[str, Any]]:
    """The contract's recurrent traces of batch row `row`: one per layer and direction of each
    recurrent module, its real steps only; `tokens(name)` (or one list) names the steps."""
    records = _order(model, _last_calls(recording.recurrent))
    out = []
    for t in (t for r in records for t in _traces(r)):
        n = int(t.lengths[row])
        names = _lookup(tokens, t.module)[:n]
        trace: dict[str, Any] = {
            "module": t.module,
            "layer": t.layer,
            "direction": t.direction,
            "cell": t.cell,
            "tokens": names,
            "hidden": rounded(t.hidden[row, :n]),
        }
        if t.gates:
            trace["gates"] = {name: rounded(g[row, :n]) for name, g in t.gates.items()}
        out.append(trace)
    return out


def top_words(probs: Tensor, itos: Sequence[str], k: int = 10) -> list[dict[str, Any]]:
    """The `k` most probable words of a distribution (V,), best first, without those of
    probability 0: [{"word", "probability"}]."""
    values, ids = probs.float().topk(min(k, probs.numel()))
    return [
        {"word": itos[i], "probability": float(f"{p:.7g}")}
        for p, i in zip(values.tolist(), ids.tolist(), strict=True)
        if p > 0
    ]
