"""The IMDB sentiment study as data: one list of named runs per table (a-e), full or quick.

Each run changes a few settings of a base model and trains it from the same seed, so rows differ
only in what their names say. Table a follows the Keras course (Chollet, *Deep Learning with
Python* §6.1-6.3: maxlen 20, Embedding(10000, 16), RMSprop, validation_split 0.2); tables b-e
study one LSTM/GRU base. Table e is planned after b-d have run (it needs their best model);
table f (learning curves) is drawn from the histories of every run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from seqlab.errors import SeqlabError

TABLES = ("a", "b", "c", "d", "e", "f")
TITLES = {
    "a": "Keras-style models (maxlen 20, embedding 16) and their extensions",
    "b": "Optimizers for LSTM and GRU",
    "c": "Depth, width, embedding size and dropout",
    "d": "Compound scaling of depth, width and embedding",
    "e": "A bidirectional version of the best model",
    "f": "Learning curves of every model",
}


@dataclass(frozen=True)
class RunSpec:
    """One training run: model and training overrides of the study's defaults."""

    table: str
    name: str  # unique in the study; names the result files runs/NAME.json and .jsonl
    label: str  # the row label in its table
    model: dict[str, Any]  # model options of `seqlab train classify` (option names)
    train: dict[str, Any]  # TrainConfig fields
    max_length: int
    notes: dict[str, Any] = field(default_factory=dict)  # extra table columns (e.g. phi)
    data: dict[str, Any] = field(default_factory=dict)  # data options overriding the study's

    def key(self, settings: StudySettings) -> str:
        """A hash of the run's name and everything that decides its result."""
        return _hash([dataclasses.asdict(self), settings.data_key()])

    def config_key(self, settings: StudySettings) -> str:
        """A hash of the run's ClassifyRun as built: runs that train one model share it."""
        from seqlab.config import flatten

        run = run_configs(self, settings)
        drop = ("data_dir", "device", "quiet", "threads")
        options = flatten(run, ("data", "model")), run.train.to_dict()
        return _hash([{k: v for k, v in c.items() if k not in drop} for c in options])


def _hash(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StudySettings:
    """Data and training settings shared by every run of a study."""

    quick: bool = False
    seed: int = 0
    vocab_size: int = 10_000  # Vocab max_size, specials included (Keras num_words)
    batch_size: int = 128
    valid_fraction: float = 0.2  # Keras' validation_split
    limit: int | None = None  # class-balanced subset of each split (the quick study)
    data_dir: str | None = None
    device: str = "auto"
    # CPU threads per run. These models are small: one thread wastes nothing, and two threads
    # on a busy 2-core machine can be 10x slower than one (they wait for each other).
    threads: int | None = None

    @classmethod
    def for_mode(
        cls,
        quick: bool,
        seed: int = 0,
        data_dir: str | None = None,
        device: str = "auto",
        threads: int | None = None,
    ) -> StudySettings:
        """The full study, or the quick one on 2,000 reviews per split (train, valid, test)."""
        limit = 2000 if quick else None
        return cls(quick, seed, limit=limit, data_dir=data_dir, device=device, threads=threads)

    def data_key(self) -> dict[str, Any]:
        """The settings that change results (the device does not, up to rounding)."""
        d = dataclasses.asdict(self)
        for key in ("device", "data_dir", "threads"):
            d.pop(key)
        return d


def run_configs(spec: RunSpec, settings: StudySettings) -> Any:
    """The ClassifyRun of a run, exactly what `seqlab train classify` builds."""
    from seqlab.config import run_from_options
    from seqlab.tasks.configs import ClassifyRun

    data = {
        "data": "imdb",
        "data_dir": settings.data_dir,
        "limit": settings.limit,
        "valid_fraction": settings.valid_fraction,
        "max_vocab": settings.vocab_size,
        "max_length": spec.max_length,
        **spec.data,
    }
    train = {"batch_size": settings.batch_size, "seed": settings.seed, **spec.train}
    train |= {"device": settings.device, "quiet": True}
    return run_from_options(ClassifyRun, {**data, **spec.model, **train}, f"study run {spec.name}")


# -- the data and base models ------------------------------------------------------------------
# Table a follows the Keras course: the official split, 20% of train for validation, 10,000
# words, maxlen 20-200 (StudySettings' defaults). Tables b-e follow the Duke assignment: all
# 50,000 labelled reviews pooled and split 7:1:2, English stop words removed, words seen fewer
# than 5 times in train dropped, the first 256 tokens kept (data options).
DUKE_DATA: dict[str, Any] = {
    "split": "7:1:2",
    "stop_words": "english",
    "min_freq": 5,
    "max_vocab": None,
    "truncate": "post",
}
KERAS = {"embed": 16, "hidden": 32}
KERAS_TRAIN = {"optimizer": "rmsprop", "lr": 1e-3, "epochs": 10}
# Tables b-e: the Duke assignment's LSTM (hidden 100, 5 epochs; Adam at 1e-3 after table b).
BASE_LENGTH = 256
QUICK_LENGTH = 100
BASE = {"model": "lstm", "embed": 100, "hidden": 100, "layers": 1}
BASE_TRAIN = {"optimizer": "adam", "lr": 1e-3, "epochs": 5}
# Wider/deeper runs stop early on the validation loss and keep their best epoch (Keras'
# EarlyStopping(restore_best_weights=True)), so no model is judged on an over-fitted epoch.
SWEEP_TRAIN = {**BASE_TRAIN, "patience": 2}
# Compound scaling grows a small model (EfficientNet's B0 idea): the Keras-sized LSTM(32) with
# embedding 16, on the Duke data; at phi = 3 it does about the work per token of the base above.
SMALL = {"model": "lstm", "embed": 16, "hidden": 32, "layers": 1}


def length(quick: bool) -> int:
    """maxlen of tables b-e."""
    return QUICK_LENGTH if quick else BASE_LENGTH


def table_a(quick: bool) -> list[RunSpec]:
    """Dense baseline, SimpleRNN(32), LSTM(32) at maxlen 20; then the course's extensions."""
    lstm = {**KERAS, "model": "lstm"}

    def run(name: str, label: str, model: dict, train: dict | None = None, length: int = 20):
        return RunSpec("a", f"a-{name}", label, model, {**KERAS_TRAIN, **(train or {})}, length)

    return [
        run("dense", "Dense (Embedding, Flatten, Dense 32)", {**KERAS, "model": "dense"}),
        run("rnn", "SimpleRNN(32)", {**KERAS, "model": "rnn"}),
        run("lstm", "LSTM(32)", lstm),
        run("lstm-len100", "LSTM(32), maxlen 100", lstm, length=100),
        run("lstm-len200", "LSTM(32), maxlen 200", lstm, length=200),
        # Keras' recurrent_dropout exists only in the scratch backend (the fused kernel has none).
        run(
            "lstm2-dropout",
            "2 x LSTM(32), dropout 0.2, recurrent dropout 0.2",
            {**lstm, "layers": 2, "layer_dropout": 0.2, "dropout": 0.2}
            | {"recurrent_dropout": 0.2, "backend": "scratch"},
        ),
        # Labels name the settings as {field} of the run's train config (the quick study's differ).
        run(
            "lstm-decay",
            "LSTM(32), lr x exp(-0.1) per epoch after {decay_after}",
            lstm,
            {"schedule": "exp", "decay_after": 5},
        ),
        run(
            "lstm-early",
            "LSTM(32), early stopping (patience {patience})",
            lstm,
            {"epochs": 20, "patience": 2},
        ),  # fmt: skip
    ]


def table_b(quick: bool) -> list[RunSpec]:
    """LSTM and GRU: the assignment's SGD at 0.01 as a sanity check, then Adam, Adagrad and
    RMSprop at 1e-3, all for its 5 epochs."""
    optimizers = [
        ("sgd-sanity", "SGD 1e-2 (sanity check)", {"optimizer": "sgd", "lr": 1e-2}),
        ("adam", "Adam 1e-3", {"optimizer": "adam", "lr": 1e-3}),
        ("adagrad", "Adagrad 1e-3", {"optimizer": "adagrad", "lr": 1e-3}),
        ("rmsprop", "RMSprop 1e-3", {"optimizer": "rmsprop", "lr": 1e-3}),
    ]
    return [
        RunSpec(
            "b",
            f"b-{cell}-{name}",
            f"{cell.upper()}, {label}",
            {**BASE, "model": cell},
            {**BASE_TRAIN, **train},
            length(quick),
            {"cell": cell.upper(), "optimizer": label},
            DUKE_DATA,
        )
        for cell in ("lstm", "gru")
        for name, label, train in optimizers
    ]


# Table c's grids: about a factor 2 between neighbours around the base (hidden 100, embedding
# 100), up to the assignment's 320 and 256; the base itself is one point of each sweep.
DEPTHS = [1, 2, 3, 4]
HIDDENS = [25, 50, 100, 200, 320]
EMBEDS = [1, 4, 16, 64, 100, 256]


def table_c(quick: bool) -> list[RunSpec]:
    """One factor at a time from the base LSTM: depth, hidden size, embedding size, dropout."""
    depths = [1, 2] if quick else DEPTHS
    hiddens = [25, 100] if quick else HIDDENS
    embeds = [4, 100] if quick else EMBEDS
    runs = []

    def run(factor: str, value: Any, label: str, model: dict) -> None:
        name = f"c-{factor}-{value}"
        notes = {"factor": factor, "value": value}
        spec = RunSpec("c", name, label, {**BASE, **model}, SWEEP_TRAIN, length(quick), notes)
        runs.append(dataclasses.replace(spec, data=DUKE_DATA))

    for d in depths:
        run("depth", d, f"{d} LSTM layer(s)", {"layers": d})
    for h in hiddens:
        run("hidden", h, f"hidden {h}", {"hidden": h})
    for e in embeds:
        run("embed", e, f"embedding {e}", {"embed": e})
    # Dropout on a model with room to over-fit: 2 x LSTM(100); 0.5 is Srivastava et al.'s default.
    big = {"layers": 2}
    run("dropout", 0.0, "2 x LSTM(100), no dropout", big)
    run("dropout", 0.5, "2 x LSTM(100), dropout 0.5", {**big, "dropout": 0.5, "layer_dropout": 0.5})
    return runs


def compound_grid(quick: bool) -> list[tuple[float, float, float, int]]:
    """(alpha, beta, gamma, phi) for EfficientNet-style scaling (Tan & Le 2019, eq. 3).

    depth = alpha^phi, width = beta^phi, embedding = gamma^phi with alpha * beta^2 * gamma^2 ~ 2,
    so each step of phi roughly doubles the work per token. Instead of EfficientNet's two
    stages (search alpha, beta, gamma at phi = 1, then scale phi) this grids both: a few
    coefficient triples on the constraint surface times phi = 1..4 (36 trials before rounding
    makes some alike). alpha <= 1.4 keeps depth <= 4 at phi = 4, the range of table c.
    With alpha = 1, (sqrt 2, 1) and (1, sqrt 2) scale width only and embedding only; depth only
    (alpha = 2) adds phi = 1, 2: single-factor scaling at the same work, to compare against.
    """
    grid = [] if quick else [(2.0, 1.0, 1.0, phi) for phi in (1, 2)]
    for alpha in [1.0, 1.4] if quick else [1.0, 1.2, 1.4]:
        rest = 2.0 / alpha  # what beta^2 * gamma^2 must give
        triples = [(alpha, rest**0.25, rest**0.25)]  # width and embedding grow alike
        if not quick:
            triples += [(alpha, rest**0.5, 1.0), (alpha, 1.0, rest**0.5)]
        for triple in triples:
            for phi in [1, 2] if quick else [1, 2, 3, 4]:
                grid.append((*triple, phi))
    return grid


def table_d(quick: bool) -> list[RunSpec]:
    """Compound scaling from the small LSTM; configurations that round alike run once."""
    base = dict(SMALL)
    h0, e0 = base["hidden"], base["embed"]

    def spec(name: str, label: str, model: dict, notes: dict) -> RunSpec:
        return RunSpec("d", name, label, model, SWEEP_TRAIN, length(quick), notes, DUKE_DATA)

    runs = [spec("d-base", f"base: LSTM({h0}), embedding {e0} (phi 0)", base, {"phi": 0})]
    seen = {(1, h0, e0)}
    for alpha, beta, gamma, phi in compound_grid(quick):
        shape = (
            max(1, round(alpha**phi)),
            max(1, round(h0 * beta**phi)),
            max(1, round(e0 * gamma**phi)),
        )
        if shape in seen:
            continue
        seen.add(shape)
        depth, hidden, embed = shape
        notes = {"alpha": round(alpha, 3), "beta": round(beta, 3), "gamma": round(gamma, 3)}
        notes |= {"phi": phi, "scaling": scaling_kind(alpha, beta, gamma)}
        model = {**base, "layers": depth, "hidden": hidden, "embed": embed}
        label = f"{depth} x LSTM({hidden}), embedding {embed}"
        runs.append(spec(f"d-l{depth}-h{hidden}-e{embed}", label, model, notes))
    if len(runs) > 50:
        raise AssertionError(f"compound scaling plans {len(runs)} trials; the budget is 50")
    return runs


def scaling_kind(alpha: float, beta: float, gamma: float) -> str:
    """ "compound" when two or more factors grow, else the one that does ("width", ...)."""
    grown = [n for n, c in (("depth", alpha), ("width", beta), ("embedding", gamma)) if c > 1.001]
    return "compound" if len(grown) > 1 else grown[0] if grown else "none"


def table_e(best: RunSpec) -> list[RunSpec]:
    """The best unidirectional model of tables b-d again, bidirectional."""
    model = {**best.model, "bidirectional": True}
    label = f"bidirectional {best.label}"
    notes = {"from": best.name}
    spec = RunSpec("e", "e-bi-" + best.name, label, model, best.train, best.max_length, notes)
    return [dataclasses.replace(spec, data=best.data)]


def quicken(spec: RunSpec, quick: bool) -> RunSpec:
    """The quick study's version of a run: at most 2 epochs, schedules and patience shortened."""
    if not quick:
        notes = {
            k: v.format(**spec.train) if isinstance(v, str) else v for k, v in spec.notes.items()
        }
        return dataclasses.replace(spec, label=spec.label.format(**spec.train), notes=notes)
    train = dict(spec.train)
    train["epochs"] = min(2, train.get("epochs", 10))
    if train.get("schedule") == "exp":
        train["decay_after"] = 1  # decay in the second epoch, so the schedule runs at all
    if train.get("patience"):
        train["patience"] = 1
    notes = {k: v.format(**train) if isinstance(v, str) else v for k, v in spec.notes.items()}
    return dataclasses.replace(spec, train=train, label=spec.label.format(**train), notes=notes)


def plan(tables: str | tuple[str, ...] = "abcd", quick: bool = False) -> list[RunSpec]:
    """The runs of tables a-d in order (table e is planned from their results)."""
    builders = {"a": table_a, "b": table_b, "c": table_c, "d": table_d}
    runs = [quicken(s, quick) for t in tables if t in builders for s in builders[t](quick)]
    names = [s.name for s in runs]
    if len(set(names)) != len(names):
        raise AssertionError("run names in the study plan must be unique")
    return runs


def parse_only(only: str | None) -> tuple[str, ...]:
    """ "a,c" -> ("a", "c"); None -> every table. Unknown letters raise SeqlabError."""
    if not only:
        return TABLES
    picked = tuple(dict.fromkeys(p.strip().lower() for p in only.split(",") if p.strip()))
    unknown = [p for p in picked if p not in TABLES]
    if unknown or not picked:
        raise SeqlabError(
            f"--only takes table letters from {', '.join(TABLES)} separated by commas, got {only!r}"
        )
    return picked
