"""Named settings: `--preset NAME` of `seqlab train classify|lm`, and the training recipe of
`seqlab finetune` where it differs from TrainConfig's. Keys are option names of any section of
the task's run config (seqlab.tasks.configs); flags and a --config file override them."""

from __future__ import annotations

# Named settings of `seqlab train classify --preset NAME` (option names of any section; flags
# and a --config file override them).
CLASSIFY_PRESETS: dict[str, dict[str, object]] = {
    # The Duke sentiment assignment (ECE 661 "LabRNN"): all 50,000 labelled IMDB reviews pooled
    # and split 7:1:2, English stop words removed, words seen fewer than 5 times in train dropped,
    # the first 256 tokens kept, one LSTM of 100 units, SGD at 0.01 for 5 epochs (its sanity
    # check: plain SGD barely learns; Adam, Adagrad, RMSprop at 1e-3 are the next step).
    "duke": {
        "data": "imdb",
        "split": "7:1:2",
        "stop_words": "english",
        "min_freq": 5,
        "max_vocab": None,
        "max_length": 256,
        "truncate": "post",
        "model": "lstm",
        "embed": 100,
        "hidden": 100,
        "layers": 1,
        "bidirectional": False,
        "optimizer": "sgd",
        "lr": 0.01,
        "epochs": 5,
    },
}


# Named settings of `seqlab train lm --preset NAME`: option names of any section. Flags and a
# --config file override them.
LM_PRESETS: dict[str, dict[str, object]] = {
    # The course assignment (= PyTorch's "Language Modeling with nn.Transformer" tutorial): the
    # torchtext field's lower-cased basic_english tokens, batch 20, bptt 35, a 2-layer 2-head
    # Transformer of size 200, SGD at 5.0 with StepLR(1.0, gamma 0.95), clipping at 0.5.
    "course": {
        "tokenizer": "basic_english",
        "lower": True,
        "model": "transformer",
        "embed": 200,
        "hidden": 200,
        "layers": 2,
        "heads": 2,
        "dropout": 0.2,
        "bptt": 35,
        "eval_batch_size": 10,
        "batch_size": 20,
        "optimizer": "sgd",
        "lr": 5.0,
        "schedule": "step",
        "step_size": 1,
        "gamma": 0.95,
        "clip": 0.5,
        "epochs": 3,
    },
    # seqlab's fast CPU model: a 2-layer LSTM of 256 units whose state is carried across
    # windows, an adaptive softmax (cutoffs 2000, 10000), Adam with a cosine schedule.
    "cpu-lstm": {
        "model": "lstm",
        "embed": 256,
        "hidden": 256,
        "layers": 2,
        "dropout": 0.25,
        "adaptive": [2000, 10000],
        "bptt": 35,
        "eval_batch_size": 10,
        "batch_size": 32,
        "optimizer": "adam",
        "lr": 2e-3,
        "schedule": "cosine",
        "warmup": 0.02,
        "clip": 0.5,
        "epochs": 9,
    },
}


# Training settings of `seqlab finetune` where they differ from TrainConfig's (BERT's recipe:
# AdamW, 10% warm-up then linear decay, a small learning rate, few epochs).
FINETUNE_TRAINING: dict[str, object] = {
    "optimizer": "adamw",
    "lr": 5e-5,
    "weight_decay": 0.01,
    "schedule": "linear",
    "warmup": 0.1,
    "clip": 1.0,
    "epochs": 3,
    "batch_size": 32,
    "monitor": "valid_accuracy",
}
