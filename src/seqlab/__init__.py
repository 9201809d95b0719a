"""seqlab: sequence models from first principles (NumPy) to fast fused PyTorch training."""

__version__ = "0.1.0"
