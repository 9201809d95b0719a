"""Bag of hashed n-grams, as in fastText (Joulin et al. 2017, "Bag of Tricks for Efficient
Text Classification").

Each token id is a unigram feature; each bigram, trigram, ... is hashed into one of `num_buckets`
extra rows (the "hashing trick", §2.2), so no n-gram vocabulary is stored. The sentence vector is
the mean of the feature embeddings (`nn.EmbeddingBag`), a strong and very fast linear baseline.
"""

from __future__ import annotations

from collections.abc import Iterable

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


def first_occurrences(features: Tensor) -> tuple[Tensor, Tensor]:
    """Sort each row of features (B, L); mark the first copy of each non-pad feature (B, L) bool.

    Keeping one copy per document binarizes the bag, as NBSVM does (Wang & Manning 2012, §2).
    """
    f, _ = features.sort(dim=1)
    first = torch.ones_like(f, dtype=torch.bool)
    first[:, 1:] = f[:, 1:] != f[:, :-1]
    return f, first & (f != PAD_ID)


class NBWeightedBag(nn.Module):
    """NBSVM's features in logistic-regression form: binarized hashed 1..n-grams, each scaled by
    its Naive-Bayes log-count ratio r (Wang & Manning 2012, "Baselines and Bigrams", §2.1).

    ids (B, T) -> sum_f r_f * E[f] (B, C). `ratio` (r) is a buffer fitted once on the training
    split by `fit_ratio` before training, and saved with the weights. With C = 1 and the
    classifier's output unit this is exactly a logistic regression on NB-scaled features.
    """

    def __init__(self, vocab_size: int, embed_dim: int, n: int = 3, num_buckets: int = 2**22):
        super().__init__()
        if n < 1 or num_buckets < 1:
            raise ValueError(f"ngram n and num_buckets must be >= 1, got {n}, {num_buckets}")
        self.vocab_size, self.n, self.num_buckets = vocab_size, n, num_buckets
        rows = vocab_size + (num_buckets if n > 1 else 0)
        self.embedding = nn.EmbeddingBag(rows, embed_dim, mode="sum")
        # A linear model on fixed features: start from zero weights (every logit 0), as NBSVM's
        # logistic regression does; the NB ratios carry the prior knowledge.
        nn.init.zeros_(self.embedding.weight)
        self.register_buffer("ratio", torch.zeros(rows))

    def features(self, ids: Tensor, real: Tensor) -> tuple[Tensor, Tensor]:
        """Sorted feature ids (B, L) and the mask of first occurrences (B, L)."""
        return first_occurrences(
            hashed_ngrams(ids, real, self.n, self.vocab_size, self.num_buckets)
        )

    def forward(self, ids: Tensor, real: Tensor) -> Tensor:
        """ids (B, T), real (B, T) bool mask of non-pad positions -> (B, C)."""
        f, first = self.features(ids, real)
        return self.embedding(f, per_sample_weights=self.ratio[f] * first)

    @torch.no_grad()
    def fit_ratio(
        self,
        batches: Iterable[tuple[Tensor, Tensor, Tensor]],
        alpha: float = 0.5,
        min_count: int = 2,
    ) -> None:
        """Fit r = log((p/|p|_1) / (q/|q|_1)) from (ids, real, labels) batches of the train split.

        p and q count the documents of class 1 and 0 holding each feature, plus `alpha`
        (Laplace smoothing). Features seen in fewer than `min_count` documents get r = 0, which
        removes the noise of rare n-grams (and most hash collisions among them).
        """
        counts = torch.zeros(2, self.ratio.numel(), dtype=torch.float64)
        for ids, real, labels in batches:
            f, first = self.features(ids, real)
            for c in (0, 1):
                rows = labels == c
                present = f[rows][first[rows]]  # each feature once per document
                counts[c].index_add_(0, present, torch.ones_like(present, dtype=counts.dtype))
        p, q = counts[1] + alpha, counts[0] + alpha
        ratio = (p / p.sum()).log() - (q / q.sum()).log()
        ratio[counts.sum(0) < min_count] = 0.0
        ratio[PAD_ID] = 0.0
        self.ratio.copy_(ratio.float())
