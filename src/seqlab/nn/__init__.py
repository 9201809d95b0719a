"""seqlab.nn: PyTorch building blocks, each with a from-scratch and a fused backend."""

from seqlab.nn.cells import GRUCell, LSTMCell, RNNCell
from seqlab.nn.recurrent import GRU, LSTM, RNN

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]
