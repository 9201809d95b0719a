"""A Keras-like model summary: one row per layer (output shape, parameters) and the totals.

Rows come from forward hooks, in the order layers run on an example input. A "layer" is a module
without children, or one of the composite layers in `_layer_types()` (a recurrent layer, an
attention block), whose parts are not listed separately. A stacked recurrent layer shows one row
per layer, as Keras does. Use: `from seqlab.summary import summary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn


def _layer_types() -> tuple[type[nn.Module], ...]:
    """Composite modules summarised as one row (their parameters counted there)."""
    from seqlab.models.ngram import NgramBag
    from seqlab.nn import GRU, LSTM, RNN, AttentionScore, FactoredSoftmax, MultiHeadAttention

    return (RNN, LSTM, GRU, MultiHeadAttention, AttentionScore, NgramBag, FactoredSoftmax,
            nn.RNNBase, nn.MultiheadAttention)  # fmt: skip


@dataclass
class LayerRow:
    """One summary row: dotted module name, class name, output shape and parameter count."""

    name: str
    kind: str
    output_shape: str
    params: int


@dataclass
class ModelSummary:
    """The rows and totals of `summary()`; `str()` renders the table."""

    model_name: str
    input_description: str
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    notes: list[str] = field(default_factory=list)  # printed under the table

    @property
    def non_trainable_params(self) -> int:
        """Parameters with requires_grad=False (frozen)."""
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        names = [f"{r.name} ({r.kind})" for r in self.rows]
        w1 = max([len("Layer (type)"), *map(len, names)]) + 2
        w2 = max([len("Output Shape"), *(len(r.output_shape) for r in self.rows)]) + 2
        w3 = max([len("Param #"), *(len(f"{r.params:,}") for r in self.rows)])
        width = w1 + w2 + w3
        lines = [
            f'Model: "{self.model_name}"  (input: {self.input_description})',
            "_" * width,
            f"{'Layer (type)':<{w1}}{'Output Shape':<{w2}}{'Param #':>{w3}}",
            "=" * width,
        ]
        for name, r in zip(names, self.rows, strict=True):
            lines.append(f"{name:<{w1}}{r.output_shape:<{w2}}{r.params:>{w3},}")
        lines += [
            "=" * width,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
        ]
        shared = sum(r.params for r in self.rows) - self.total_params
        if shared > 0:
            lines.append(f"({shared:,} parameters are shared by layers and counted once in total)")
        lines.append("_" * width)
        lines += self.notes
        return "\n".join(lines)


def _shape(output: Any) -> str:
    """Shape of a module output; for tuples (RNN: outputs, state) the first tensor's."""
    if isinstance(output, Tensor):
        return str(list(output.shape))
    if isinstance(output, Sequence) and output:
        return _shape(output[0])
    return "-"


def _describe(example: Any) -> str:
    if isinstance(example, Tensor):
        return str(list(example.shape))
    if isinstance(example, dict):
        return ", ".join(f"{k} {_describe(v)}" for k, v in example.items())
    if isinstance(example, Sequence):
        return ", ".join(_describe(v) for v in example)
    return type(example).__name__


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) for every summarised layer, skipping the insides of composite layers.

    A model's `summary_flatten` names submodules whose layers are listed as its own, by their
    names inside them (a SequenceClassifier's `encoder`: "embedding", not "encoder.embedding"),
    as Keras lists one flat stack."""
    composite = _layer_types()
    flat = tuple(f"{p}." for p in getattr(model, "summary_flatten", ()))
    found: list[tuple[str, nn.Module]] = []
    inside: list[str] = []
    for name, module in model.named_modules():
        if not name or any(name.startswith(p + ".") for p in inside):
            continue
        if isinstance(module, composite):
            inside.append(name)
        elif next(module.children(), None) is not None or isinstance(module, nn.Identity):
            continue
        shown = next((name[len(p) :] for p in flat if name.startswith(p)), name)
        found.append((shown, module))
    return found


def summary(
    model: nn.Module,
    example: Any = None,
    input_shape: Sequence[int] | None = None,
    dtype: torch.dtype = torch.long,
    batch_size: int = 1,
    length: int | None = None,
    explain: bool = False,
) -> ModelSummary:
    """Run `model` once on an example and tabulate its layers, Keras-style.

    `explain=True` adds, under the table, each recurrent cell's parameters split into U
    (input-to-hidden), W (hidden-to-hidden) and biases, in Goodfellow's notation (eq. 10.8).

    example: a batch dict (called as model(**example)), a tuple of inputs, or one tensor;
    input_shape: build a tensor of ones with this shape and `dtype` instead (token id 1 is valid);
    neither: `model.example_batch(batch_size, length)` (every seqlab model has one).
    """
    if example is None:
        if input_shape is not None:
            example = torch.ones(tuple(input_shape), dtype=dtype)
        elif hasattr(model, "example_batch"):
            example = model.example_batch(batch_size, length)
        else:
            raise ValueError("summary needs an example input or an input_shape for this model")
    from seqlab.nn.factored import FactoredSoftmax
    from seqlab.nn.recurrent import _Recurrent

    layers = _layers(model)
    shapes: dict[str, str] = {}
    order: list[str] = []

    def hook_for(name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if name not in shapes:
                order.append(name)
                shapes[name] = _shape(output)

        return hook

    def method_for(name: str, module: nn.Module, attr: str):
        # Methods that bypass forward hooks: a recurrent layer's `outputs()` (classifiers call
        # it), a factored softmax's `loss` (language models train through it).
        method = getattr(module, attr)

        def call(*args: Any, **kwargs: Any) -> Tensor:
            result = method(*args, **kwargs)
            hook_for(name)(module, args, result)
            return result

        return call

    handles = [m.register_forward_hook(hook_for(n)) for n, m in layers]
    recurrent = [(n, m) for n, m in layers if isinstance(m, _Recurrent)]
    wrapped = [(n, m, "outputs") for n, m in recurrent]
    wrapped += [(n, m, "loss") for n, m in layers if isinstance(m, FactoredSoftmax)]
    for name, module, attr in wrapped:
        setattr(module, attr, method_for(name, module, attr))  # removed below
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            if isinstance(example, dict):
                model(**example)
            elif isinstance(example, tuple | list):
                model(*example)
            else:
                model(example)
    finally:
        for h in handles:
            h.remove()
        for _, module, attr in wrapped:
            delattr(module, attr)
        model.train(was_training)
    by_name = dict(layers)
    # Layers in call order; layers the example never reached go last, so every parameter shows.
    names = order + [n for n, _ in layers if n not in shapes]
    result = ModelSummary(type(model).__name__, _describe(example))
    for name in names:
        module, shape = by_name[name], shapes.get(name, "(unused)")
        if isinstance(module, _Recurrent) and module.num_layers > 1:
            # One row per stacked layer, as Keras lists LSTM(32) twice: 6,272 then 8,320.
            dirs = module.num_directions
            for k in range(module.num_layers):
                cells = module.cells[k * dirs : (k + 1) * dirs]
                params = sum(p.numel() for p in cells.parameters())
                result.rows.append(LayerRow(f"{name}.{k}", type(module).__name__, shape, params))
            continue
        params = sum(p.numel() for p in module.parameters())
        result.rows.append(LayerRow(name, type(module).__name__, shape, params))
    result.notes += _recurrent_notes(recurrent, explain)
    linear = [(n, m) for n, m in layers if isinstance(m, nn.Linear)]
    if explain and recurrent and linear:
        name, out = linear[-1]  # the output layer: o = c + V h
        shape = tuple(out.weight.shape)
        line = f"  {name}: V {shape} {out.weight.numel():,} (hidden-to-output)"
        if out.bias is not None:
            line += f"; c ({out.bias.numel()},) {out.bias.numel():,} (output bias)"
        result.notes.append(line)
    unique = {id(p): p for p in model.parameters()}.values()  # tied weights count once
    result.total_params = sum(p.numel() for p in unique)
    result.trainable_params = sum(p.numel() for p in unique if p.requires_grad)
    return result


def _recurrent_notes(recurrent: list[tuple[str, nn.Module]], explain: bool) -> list[str]:
    """The GRU bias convention (when there is a GRU) and, with `explain`, U / W / b per cell."""
    from seqlab.nn import GRU

    notes = []
    grus = [m for _, m in recurrent if isinstance(m, GRU)]
    if grus:
        g = grus[0]
        C, H = g.input_size, g.hidden_size
        n = 3 * (C * H + H * H + 2 * H)
        notes.append(
            f"GRU: two biases per gate (b and b_W; Keras' reset_after=True, torch.nn.GRU): "
            f"3 x ({C}*{H} + {H}*{H} + 2*{H}) = {n:,} parameters for GRU({H}) on {C} inputs."
        )
    if not explain:
        return notes
    notes.append(
        "Recurrent parameters (a = b + W h + U x, Goodfellow eq. 10.8; output o = c + V h):"
    )
    for name, module in recurrent:
        dirs = module.num_directions
        for i, cell in enumerate(module.cells):
            where = f"{name} layer {i // dirs}" + (" reverse" if i % dirs else "")
            roles = {"U": "input-to-hidden", "W": "hidden-to-hidden", "b": "bias"}
            roles["b_W"] = "recurrent bias"
            params = {
                "b" if k == "U.bias" else k.removesuffix(".weight"): p
                for k, p in cell.named_parameters()
            }  # RNNCell: U.weight, U.bias (= b), W.weight
            parts = [
                f"{k} {tuple(params[k].shape)} {params[k].numel():,} ({role})"
                for k, role in roles.items()
                if k in params
            ]
            notes.append(f"  {where}: " + "; ".join(parts))
    return notes
