"""The options of every training command, built from the run configs' field metadata.

A run's settings come in layers: the dataclass defaults < the command's own defaults < a preset
< a TOML file (`--config`: `[data]`, `[model]`, `[train]`, `[decode]` tables, or flat option
names) < the flags given on the command line.
"""

from __future__ import annotations

import argparse
from typing import Any

from seqlab.errors import SeqlabError

DRY_RUN_LIMIT = 200  # texts (or pairs) per split in a --dry-run, unless --limit says otherwise
RUN_OPTIONS = ("config", "out", "resume", "overwrite", "dry_run", "preset")
GROUP_TITLES = {"data": "data", "model": "model", "decode": "decoding", "train": "training"}


def add_run_options(
    p: argparse.ArgumentParser,
    run_class: type,
    *,
    out: str,
    dry: str = "",
    presets: dict[str, dict[str, Any]] | None = None,
    preset_help: str = "",
    defaults: dict[str, Any] | None = None,
) -> None:
    """--config, --out, --resume, --overwrite, --dry-run (and --preset), then every option of
    `run_class` in one group per section. `defaults` are option values of the command where
    they differ from the dataclasses' (e.g. finetune's training recipe), shown in --help."""
    from seqlab.config import add_options, nest

    run = p.add_argument_group("run")
    run.add_argument(
        "--config",
        metavar="FILE.toml",
        help="read options from a TOML file ([data], [model], [train], [decode] tables, or "
        "option names at the top); flags override it",
    )
    run.add_argument(
        "--out", metavar="DIR", help=f"folder for last.pt, best.pt, log.jsonl, results.json "
        f"(default: {out})",
    )  # fmt: skip
    run.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    run.add_argument(
        "--overwrite", action="store_true", help="replace the run already in OUT (its "
        "checkpoints, log, results, reports and plots); without it such a folder is refused",
    )  # fmt: skip
    run.add_argument(
        "--dry-run", action="store_true", help=f"1 epoch of 2 batches{dry}, to check a setup"
    )
    if presets:
        run.add_argument(
            "--preset",
            choices=sorted(presets),
            help=f"named settings (flags and --config override them): {preset_help}",
        )
    groups: dict[str, Any] = {}

    def group_for(name: str) -> Any:
        return groups.setdefault(name, p.add_argument_group(GROUP_TITLES.get(name, name)))

    own = nest(run_class, defaults or {}, "the command's defaults")
    add_options(group_for, run_class, own, {"monitor": run_class.monitors})
    p.set_defaults(
        run_class=run_class, presets=presets or {}, own_defaults=defaults or {}, default_out=out
    )


def read_toml(path: str, run_class: type) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The sections of a TOML file of options, and its run options (out, resume, dry-run,
    preset, overwrite): tables named after sections (keys: option or field names) or option
    names at the top level; checked (names and types) against the run config, errors naming
    the file and the key."""
    import tomllib

    from seqlab.config import config_from_dict, nest, options

    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise SeqlabError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as e:
        raise SeqlabError(f"config file {path}: {e}") from None
    run = {k.replace("-", "_"): v for k, v in raw.items() if k.replace("-", "_") in RUN_OPTIONS}
    for key, value in run.items():
        wanted = str if key in ("out", "preset") else bool
        if key == "config" or not isinstance(value, wanted):
            what = "is not allowed here" if key == "config" else f"must be {wanted.__name__}"
            raise SeqlabError(f"{path}: {key} {what}, got {value!r}")  # one line
    table = options(run_class)
    sections = {sec for sec, _ in table.values()}
    flat = {
        k: v
        for k, v in raw.items()
        if not (k in sections and isinstance(v, dict)) and k.replace("-", "_") not in run
    }
    nested = nest(run_class, flat, path)
    for sec in sections & set(raw):
        if not isinstance(raw[sec], dict):
            continue
        for key, value in raw[sec].items():
            k = key.replace("-", "_")
            place = table.get(k)
            if place is None or place[0] != sec:  # a field name of this section
                place = (sec, k)
            nested.setdefault(sec, {})[place[1]] = value
    config_from_dict(run_class, nested, path)  # unknown or mistyped keys, named
    return nested, run


def run_config(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """(the run config, the run options out/resume/dry_run) of a parsed training command."""
    from seqlab.config import FLAG_SOURCES, config_from_dict, nest

    run_class = args.run_class
    given = {k: v for k, v in vars(args).items() if k not in _INTERNAL}
    toml, toml_run = ({}, {}) if "config" not in given else read_toml(given["config"], run_class)
    run = {k: given.pop(k, toml_run.get(k)) for k in RUN_OPTIONS}  # flags over the file
    layers = [nest(run_class, args.own_defaults, "the command's defaults")]
    if run["preset"] is not None:
        if run["preset"] not in args.presets:
            known = ", ".join(args.presets) or "none for this command"
            raise SeqlabError(f"unknown preset {run['preset']!r}; choose one of {known}")
        layers.append(nest(run_class, args.presets[run["preset"]], f"preset {run['preset']}"))
    layers += [toml, nest(run_class, given, FLAG_SOURCES[1])]
    values: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for sec, fields in layer.items():
            values.setdefault(sec, {}).update(fields)
    if run["dry_run"]:
        data = values.setdefault("data", {})
        if "limit" in _fields(run_class, "data"):
            data.setdefault("limit", DRY_RUN_LIMIT)
        values.setdefault("train", {}).update(epochs=1, limit_batches=2)
    return config_from_dict(run_class, values, FLAG_SOURCES[0]), run


_INTERNAL = ("func", "command", "task", "run_class", "presets", "own_defaults", "default_out")


def _fields(run_class: type, section: str) -> list[str]:
    import dataclasses
    import typing

    return [f.name for f in dataclasses.fields(typing.get_type_hints(run_class)[section])]


def train_task(task: Any, args: argparse.Namespace) -> int:
    """Build the run config from the options, train, then leave the process group."""
    from pathlib import Path

    from seqlab.train.distributed import shutdown

    cfg, run = run_config(args)
    out = Path(run["out"] or args.default_out)
    try:
        task.train(cfg, out, resume=bool(run["resume"]), overwrite=bool(run["overwrite"]))
    finally:
        shutdown()
    return 0


def read_texts(texts: list[str], encoding: str = "utf-8") -> list[str]:
    """Texts from the command line, or the lines of standard input for '-', decoded strictly
    from `encoding`: a byte that is not text is an error naming its offset, never a U+FFFD."""
    import codecs
    import sys

    from seqlab.data.readers import split_lines

    if texts != ["-"]:
        return texts
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SeqlabError(f"--encoding {encoding!r}: no such text encoding") from None
    stream = getattr(sys.stdin, "buffer", None)
    raw = stream.read() if stream is not None else sys.stdin.read().encode(encoding)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise SeqlabError(
            f"standard input, byte {e.start}: {raw[e.start : e.end]!r} is not {encoding} text "
            "(choose the input's encoding with --encoding)"
        ) from None
    return split_lines(text.removeprefix("\ufeff"))


def checkpoint_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    help: str,
    description: str,
    trained: str,
    optional: bool = False,
) -> argparse.ArgumentParser:
    """A sub-command that reads a checkpoint: its parser, with the CHECKPOINT argument
    (`trained`: the command that writes such checkpoints; `optional`: it may be left out)."""
    p = subparsers.add_parser(name, help=help, description=description)
    nargs = "?" if optional else None
    p.add_argument("checkpoint", nargs=nargs, help=f"a best.pt or last.pt written by {trained}")
    return p


def print_results(lines: list[str], notes: list[str]) -> None:
    """Notes on the input to standard error, then the results, one a line."""
    import sys

    for note in notes:
        print(f"seqlab: note: {note}", file=sys.stderr)
    for line in lines:
        print(line)
