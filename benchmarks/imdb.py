"""IMDB sentiment: train the headline models on the full data and record what they reach.

Each run is one `seqlab train classify` command (the `command` field reproduces it); its
OUT/results.json gives test accuracy, the best validation accuracy, parameters, epochs and the
training wall time. Results go to benchmarks/results/imdb.json in the format of BENCHMARKS.md;
re-running a run replaces its entry.

    python benchmarks/imdb.py --list            # the runs and their commands
    python benchmarks/imdb.py                   # all runs (about half an hour on 2 cores)
    python benchmarks/imdb.py --only nbsvm-fast # one run
"""

from __future__ import annotations

import sys

from common import run_classify_benchmark

# The epoch validation chose for nbsvm-trigram and cnn (best valid accuracy: 0.9262 after
# epoch 3 of 4; 0.8902 after epoch 2, as recorded above)
NBSVM_EPOCHS, CNN_EPOCHS = 3, 2
# name -> (tags, options of `seqlab train classify`). Every run holds out 20% of train for
# validation and, with --patience, keeps the weights of the best validation epoch.
RUNS: dict[str, tuple[list[str], str]] = {
    # A fast baseline: NB-weighted uni+bigrams (NBSVM's features, logistic regression), 1 epoch.
    "nbsvm-fast": (
        ["baseline"],
        "--model nbsvm --embed 1 --ngram 2 --buckets 1048576 --max-length none "
        "--optimizer adam --lr 1e-3 --batch-size 64 --epochs 1",
    ),
    # The best model without pretrained weights: the same with trigrams and 16M hash buckets.
    "nbsvm-trigram": (
        ["baseline"],
        "--model nbsvm --embed 1 --ngram 3 --buckets 16777216 --max-length none "
        "--optimizer adam --lr 1e-3 --batch-size 64 --epochs 4 --patience 2 "
        "--monitor valid_accuracy",
    ),
    # The course's LSTM: Adam at 1e-3, embedding and state 100, 256 tokens, 5 epochs.
    "course-lstm": (
        ["course", "rnn"],
        "--model lstm --embed 100 --hidden 100 --layers 1 --bidirectional --pooling max "
        "--max-length 256 --min-freq 5 --optimizer adam --lr 1e-3 --batch-size 64 --epochs 5 "
        "--patience 2 --monitor valid_accuracy",
    ),
    # The strongest recurrent model: a BiGRU over whole reviews, max pooling, dropout 0.5.
    # (The same at 512 tokens with dropout 0.3 and min-freq 5 reached 0.889 test.) The validation
    # loss is lowest after epoch 2 of 4 (valid accuracy peaks at 2 or 3, by machine kind) ...
    "bigru-validated": (
        ["rnn"],
        "--model gru --embed 128 --hidden 128 --layers 1 --bidirectional --pooling max "
        "--dropout 0.5 --max-length none --min-freq 2 --optimizer adamw --lr 2e-3 "
        "--weight-decay 0.05 --schedule cosine --warmup 0.1 --batch-size 64 --epochs 4 "
        "--patience 2 --monitor valid_accuracy",
    ),
    # Kim (2014)'s convolutional encoder over whole reviews: widths 3, 4, 5 with 100 filters each.
    "cnn": (
        ["cnn"],
        "--model cnn --embed 128 --hidden 100 --widths 3,4,5 --dropout 0.5 --max-length none "
        "--min-freq 2 --optimizer adam --lr 1e-3 --batch-size 64 --epochs 4 --patience 2 "
        "--monitor valid_accuracy",
    ),
    # The three validated models above (same split and seed), probabilities averaged with
    # weights chosen on the validation split.
    "ensemble-nbsvm-bigru-cnn": (
        ["baseline", "rnn", "cnn"],
        "--ensemble nbsvm-trigram bigru-validated cnn",
    ),
    # ... so the final model trains for 2 epochs on all 25,000 training reviews (no validation).
    "bigru-full": (
        ["rnn"],
        "--model gru --embed 128 --hidden 128 --layers 1 --bidirectional --pooling max "
        "--dropout 0.5 --max-length none --min-freq 2 --optimizer adamw --lr 2e-3 "
        "--weight-decay 0.05 --schedule cosine --warmup 0.1 --batch-size 64 --epochs 2 "
        "--valid-fraction 0",
    ),
    # The NBSVM and CNN recipes retrained the same way: on all 25,000 training reviews for the
    # epochs their validated runs above chose (NBSVM_EPOCHS, CNN_EPOCHS), no validation.
    "imdb-nbsvm-trigram-full": (
        ["baseline"],
        "--model nbsvm --embed 1 --ngram 3 --buckets 16777216 --max-length none "
        f"--optimizer adam --lr 1e-3 --batch-size 64 --epochs {NBSVM_EPOCHS} --valid-fraction 0",
    ),
    "imdb-cnn-full": (
        ["cnn"],
        "--model cnn --embed 128 --hidden 100 --widths 3,4,5 --dropout 0.5 --max-length none "
        f"--min-freq 2 --optimizer adam --lr 1e-3 --batch-size 64 --epochs {CNN_EPOCHS} "
        "--valid-fraction 0",
    ),
    # The three full-data models, with the weights the validated ensemble chose on validation
    # (0.5 / 0.2 / 0.3 for nbsvm-trigram / bigru-validated / cnn): nothing here sees test data.
    "imdb-ensemble-full": (
        ["baseline", "rnn", "cnn"],
        "--ensemble imdb-nbsvm-trigram-full bigru-full imdb-cnn-full --weights 0.5 0.2 0.3",
    ),
}


def main() -> int:
    return run_classify_benchmark("imdb", "imdb", RUNS, __doc__)


if __name__ == "__main__":
    sys.exit(main())
