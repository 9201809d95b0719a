"""How long a sentiment-study plan will train: a cost model per run, and the plan's total.

The estimate is printed before a study starts (and by `--list`), and orders the runs of
`--jobs N` longest first, so the workers finish together.
"""

from __future__ import annotations

from seqlab.study.sentiment import RunSpec, StudySettings, run_configs


def epochs_budget(specs: list[RunSpec]) -> int:
    """Planned epochs over all runs (an upper bound when early stopping is on)."""
    return sum(s.train.get("epochs", 10) for s in specs)


# -- the time a plan will take ------------------------------------------------------------------
# One torch thread on the 2-core AMD EPYC of the README, measured on training batches of 128
# reviews while other jobs shared the machine (E/H/T: 16/32/170 0.076 s, 100/100/130 0.26 s,
# 100/320/130 1.19 s, 256/100/130 0.54 s, 4 x 100/100/130 0.94 s): a fixed cost per batch, a
# cost per multiply-add of the recurrent layers, and a cost per parameter (the optimizer step
# over the embedding table). Evaluation batches cost about a third of the multiply-adds.
SECONDS_PER_BATCH = 0.04
SECONDS_PER_MAC = 0.13e-9
SECONDS_PER_PARAM = 0.02e-6
# Mean review length in basic_english tokens (IMDB: 268), and with NLTK's stop words removed;
# vocabulary size of the Duke data (min_freq 5 on 35,000 reviews).
MEAN_TOKENS = {"none": 268, "english": 150}
DUKE_VOCAB = 30_000
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def estimate_seconds(spec: RunSpec, settings: StudySettings) -> float:
    """Rough single-thread training time of a run (all planned epochs, validation and test)."""
    from types import SimpleNamespace

    from seqlab.config import flatten

    run = run_configs(spec, settings)
    cfg, train = SimpleNamespace(**flatten(run)), run.train  # the options by name
    pooled = cfg.split not in (None, "official")
    n_train = 35_000 if pooled else round(25_000 * (1 - cfg.valid_fraction))
    n_valid, n_test = (5_000, 10_000) if pooled else (25_000 - n_train, 25_000)
    if settings.limit:
        n_train = n_valid = n_test = int(settings.limit)
    tokens = min(cfg.max_length or 10**9, MEAN_TOKENS.get(cfg.stop_words, 150))
    vocab = cfg.max_vocab or DUKE_VOCAB
    dirs = 2 if cfg.bidirectional else 1
    gates = GATES.get(cfg.model, 0)
    macs = 0  # per token, forward
    for layer in range(cfg.layers if gates else 0):
        inputs = cfg.embed if layer == 0 else cfg.hidden * dirs
        macs += dirs * gates * cfg.hidden * (inputs + cfg.hidden)
    if not gates:  # dense (Flatten, Dense) and the other encoders: one matrix per token
        macs = cfg.embed * cfg.hidden
    params = vocab * cfg.embed + macs
    batch = train.batch_size

    def batches(n: int) -> int:
        return -(-n // batch)

    step = SECONDS_PER_BATCH + SECONDS_PER_MAC * macs * tokens * batch + SECONDS_PER_PARAM * params
    look = SECONDS_PER_BATCH + SECONDS_PER_MAC * macs * tokens * batch / 3
    per_epoch = batches(n_train) * step + batches(n_valid) * look
    return train.epochs * per_epoch + batches(n_test) * look


def makespan(seconds: list[float], jobs: int) -> float:
    """Wall time of runs of the given lengths on `jobs` workers, longest first (as run)."""
    load = [0.0] * max(1, jobs)
    for s in sorted(seconds, reverse=True):
        load[load.index(min(load))] += s
    return max(load)


def plan_summary(specs: list[RunSpec], settings: StudySettings, jobs: int = 1) -> str:
    """How much training a plan asks for: runs, epochs and an estimate of the time."""
    unique = {s.config_key(settings): s for s in specs}
    seconds = [estimate_seconds(s, settings) for s in unique.values()]
    shared = len(specs) - len(unique)
    text = (
        f"{len(specs)} runs ({shared} share another run's model), "
        f"{epochs_budget(list(unique.values()))} epochs at most; "
        f"about {_duration(sum(seconds))} of training on one thread"
    )
    if jobs > 1:
        text += f", {_duration(makespan(seconds, jobs))} with --jobs {jobs}"
    return text + " (a rough estimate; early stopping ends some runs sooner)"


def _duration(seconds: float) -> str:
    """3 min, 2.4 h."""
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"
