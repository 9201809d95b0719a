"""Bag of hashed n-grams, as in fastText (Joulin et al. 2017, "Bag of Tricks for Efficient
Text Classification").

Each token id is a unigram feature; each bigram, trigram, ... is hashed into one of `num_buckets`
extra rows (the "hashing trick", §2.2), so no n-gram vocabulary is stored. The sentence vector is
the mean of the feature embeddings (`nn.EmbeddingBag`), a strong and very fast linear baseline.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.models.common import PAD_ID

# Polynomial rolling hash modulo a Mersenne prime; intermediate products stay below 2**62 in int64.
_PRIME = 2**31 - 1
_BASE = 1_000_003


def hashed_ngrams(ids: Tensor, real: Tensor, n: int, vocab_size: int, num_buckets: int) -> Tensor:
    """Feature indices (B, L) of all 1..n-grams; n-grams touching padding map to PAD_ID (0).

    ids (B, T) long, real (B, T) bool. Unigrams keep their id; k-grams (k >= 2) become
    vocab_size + hash(ids[t:t+k]) % num_buckets, with the order k mixed into the hash.
    """
    features = [ids.masked_fill(~real, PAD_ID)]
    h, valid = ids, real
    for k in range(2, n + 1):
        # windows of length k: extend each (k-1)-gram starting at t by the token at t+k-1
        h = (h[:, :-1] * _BASE + ids[:, k - 1 :] + k) % _PRIME  # (B, T-k+1)
        valid = valid[:, :-1] & real[:, k - 1 :]
        buckets = vocab_size + h % num_buckets
        features.append(buckets.masked_fill(~valid, PAD_ID))
    return torch.cat(features, dim=1)  # (B, L) with L = sum_k (T-k+1)


class NgramBag(nn.Module):
    """fastText encoder: ids (B, T) -> mean embedding of their hashed 1..n-grams (B, C)."""

    def __init__(self, vocab_size: int, embed_dim: int, n: int = 2, num_buckets: int = 2**18):
        super().__init__()
        if n < 1 or num_buckets < 1:
            raise ValueError(f"ngram n and num_buckets must be >= 1, got {n}, {num_buckets}")
        self.vocab_size, self.n, self.num_buckets = vocab_size, n, num_buckets
        # padding_idx rows are left out of the mean, so padding never changes the result
        self.embedding = nn.EmbeddingBag(
            vocab_size + (num_buckets if n > 1 else 0), embed_dim, mode="mean", padding_idx=PAD_ID
        )
        # fastText initialises uniformly in [-1/C, 1/C]
        nn.init.uniform_(self.embedding.weight, -1.0 / embed_dim, 1.0 / embed_dim)
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()

    def forward(self, ids: Tensor, real: Tensor) -> Tensor:
        """ids (B, T), real (B, T) bool mask of non-pad positions -> (B, C)."""
        features = hashed_ngrams(ids, real, self.n, self.vocab_size, self.num_buckets)
        return self.embedding(features)
