"""seqlab.nn: PyTorch building blocks, each with a from-scratch and a fused backend."""

from seqlab.nn.attention import (
    AttentionScore,
    KVCache,
    MultiHeadAttention,
    Seq2SeqAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)
from seqlab.nn.cells import GRUCell, LSTMCell, RNNCell
from seqlab.nn.factored import FactoredSoftmax, balanced_classes, frequency_classes
from seqlab.nn.output import VocabProjection, cached_projections
from seqlab.nn.recurrent import GRU, LSTM, RNN, locked_dropout
from seqlab.nn.transformer import (
    FeedForward,
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    positional_encoding,
)

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]
__all__ += [
    "AttentionScore",
    "FactoredSoftmax",
    "FeedForward",
    "KVCache",
    "LearnedPositionalEncoding",
    "MultiHeadAttention",
    "Seq2SeqAttention",
    "SinusoidalPositionalEncoding",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "VocabProjection",
    "balanced_classes",
    "cached_projections",
    "causal_mask",
    "frequency_classes",
    "locked_dropout",
    "padding_mask",
    "positional_encoding",
    "scaled_dot_product_attention",
]
