"""NumPy reference implementations from first principles, named as in the uuml course.

No torch here: these functions are the readable definitions that seqlab.nn is tested against.
"""

from seqlab.reference.attention import (
    QKV,
    AttentionOutput,
    MultiHeadOutput,
    attention,
    multi_head_self_attention,
    qkv,
    softmax,
)
from seqlab.reference.norms import batch_norm, group_norm, instance_norm, layer_norm
from seqlab.reference.rnn import RNNOutput, activation, output_rnn, rnn_layer, rnn_unit
from seqlab.reference.rnn_backward import RNNGradients, rnn_backward

__all__ = [
    "QKV",
    "AttentionOutput",
    "MultiHeadOutput",
    "RNNGradients",
    "RNNOutput",
    "activation",
    "attention",
    "batch_norm",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "multi_head_self_attention",
    "output_rnn",
    "qkv",
    "rnn_backward",
    "rnn_layer",
    "rnn_unit",
    "softmax",
]
