"""Typed nested run configs: a run is `{data, model, train, decode}` of dataclasses.

An option is declared once, as a dataclass field made by `setting(...)`: its metadata carries the
command-line flag and help text, so `add_options` builds the CLI, `config_from_dict` reads a
TOML file or a checkpoint (unknown or mistyped keys are a one-line error naming the key and
where it came from), and `changed_settings` compares a resumed run with its checkpoint. A field
may carry a `Rule` (`check=POSITIVE`): `config_from_dict` checks it for every source, naming the
option as the user wrote it. Light: no torch import, so the CLI starts fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

from seqlab.errors import SeqlabError
from seqlab.rules import (  # noqa: F401 - the rules a setting may carry, importable from here
    COUNT,
    FINITE,
    NON_NEGATIVE,
    POSITIVE,
    PROPORTION,
    UNIT,
    Rule,
    at_least,
    number,
    one_of,
)

_MISSING = dataclasses.MISSING
# Sources whose keys the user typed as flags (commands.options.run_config): errors name the flag
# (--lr); other sources (a TOML file, a checkpoint, a study) the key (train.lr).
FLAG_SOURCES = ("the options", "the command line")


class RunConfig:
    """The base of every run config: a dataclass of sections whose class says which values its
    `train.monitor` may watch (what its validation records hold; train_loss always)."""

    monitors = ("valid_loss",)  # a plain class attribute: not a field of the sections

    def __post_init__(self) -> None:
        allowed = (*self.monitors, "train_loss")
        monitor = self.train.monitor  # type: ignore[attr-defined]
        if monitor not in allowed:
            raise SeqlabError(f"--monitor must be one of {', '.join(allowed)}, got {monitor!r}")


def setting(
    default: Any = _MISSING,
    help: str = "",
    *,
    flag: str | None = None,
    choices: Iterable[Any] | None = None,
    metavar: str | None = None,
    parse: Callable[[str], Any] | None = None,
    show_default: bool = True,
    cli: bool = True,
    default_factory: Callable[[], Any] | None = None,
    check: Rule | None = None,
) -> Any:
    """A dataclass field with its command-line option: `flag` (default: --field-name), `help`
    ("(default: X)" is appended unless `show_default=False` or X is None), `choices`,
    `metavar`, `parse` (the argparse type; default: from the annotation), `check` (the `Rule`
    of the values it allows; default: its choices). `cli=False`: no flag."""
    choices = tuple(choices) if choices is not None else None
    meta = {"check": check or (one_of(choices) if choices is not None else None), "help": help}
    meta |= {"flag": flag, "choices": choices, "metavar": metavar, "parse": parse}
    meta |= {"show_default": show_default, "cli": cli}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def section(cls: type) -> Any:
    """A run's section field holding a `cls()` by default."""
    return dataclasses.field(default_factory=cls)


def option_name(field: dataclasses.Field) -> str:
    """The option name of a field as a dict key: its flag without dashes, '_' for '-'."""
    return flag_of(field).lstrip("-").replace("-", "_")


def flag_of(field: dataclasses.Field) -> str:
    """The option name of a field: its metadata's flag, else --field-name."""
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def options(run_class: type) -> dict[str, tuple[str, str]]:
    """Option name (flag without dashes, '_' for '-', e.g. "max_vocab") -> (section, field) for
    every field of every section of `run_class`; also each field name itself where it is unique.
    Flat keys (flags, old TOML files and old checkpoints) are resolved through this table."""
    table: dict[str, tuple[str, str]] = {}
    names: dict[str, list[tuple[str, str]]] = {}
    for sec in dataclasses.fields(run_class):
        for f in dataclasses.fields(typing.get_type_hints(run_class)[sec.name]):
            table[option_name(f)] = (sec.name, f.name)
            names.setdefault(f.name, []).append((sec.name, f.name))
    for name, places in names.items():
        if len(places) == 1:
            table.setdefault(name, places[0])
    return table


def nest(run_class: type, flat: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """Flat option values (`{"embed": 64, "lr": 0.01}`) as sections (`{"model": {"embed_dim":
    64}, "train": {"lr": 0.01}}`); a key no section knows is a SeqlabError naming `source`."""
    table = options(run_class)
    out: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        if (k := key.replace("-", "_")) not in table:
            valid = " ".join(sorted(n.replace("_", "-") for n in table))
            raise SeqlabError(f"{source}: unknown option {key!r}; valid: {valid}")
        sec, name = table[k]
        out.setdefault(sec, {})[name] = value
    return out


def _type_name(hint: Any) -> str:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if typing.get_origin(hint) is list:
        return f"a list of {_type_name(args[0])}"
    return "none" if hint is type(None) else getattr(hint, "__name__", str(hint))


def _coerce(value: Any, hint: Any) -> tuple[bool, Any]:
    """(fits, value) for `value` against the annotation `hint` (ints widen to float)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            fits, v = _coerce(value, arg)
            if fits:
                return True, v
        return False, value
    if origin is list:
        if not isinstance(value, list | tuple):
            return False, value
        (item,) = typing.get_args(hint)
        coerced = [_coerce(v, item) for v in value]
        return all(ok for ok, _ in coerced), [v for _, v in coerced]
    if hint is type(None):
        return value is None, value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool)
        huge = isinstance(value, int) and abs(value) >= 2**1024  # float() would overflow
        return fits, (math.inf if huge else float(value)) if fits else value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    return hint is Any or isinstance(value, hint), value


def config_from_dict(cls: type, values: dict[str, Any], source: str, where: str = "") -> Any:
    """A `cls` (a dataclass, sections nested) from `values`; missing keys take the defaults.

    An unknown key, a value of the wrong type, not among the field's choices or not allowed by
    its rule is a one-line SeqlabError naming the key (as `section.key`) and `source` (a file, a
    checkpoint; from the command line (`FLAG_SOURCES`): the flag)."""
    if not isinstance(values, dict):
        raise SeqlabError(f"{source}: [{where}] must be a table of settings, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise SeqlabError(
            f"{source}: unknown setting {where + '.' if where else ''}{unknown[0]}; "
            f"valid: {', '.join(fields)}"
        )
    kwargs = {}
    for name, value in values.items():
        hint, key = hints[name], f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(hint):
            kwargs[name] = config_from_dict(hint, value, source, key)
            continue
        fits, value = _coerce(value, hint)
        if not fits:
            raise SeqlabError(f"{source}: {key} must be {_type_name(hint)}, got {value!r}")
        if (rule := fields[name].metadata.get("check")) is not None:
            rule.check(
                value, flag_of(fields[name]) if source in FLAG_SOURCES else f"{source}: {key}"
            )
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise SeqlabError(f"{source}: {where or cls.__name__}: {e}") from None


def check_settings(cfg: Any) -> None:
    """Check every field of a config built directly (not by `config_from_dict`), naming it."""
    for f in dataclasses.fields(cfg):
        if f.metadata.get("check") is not None:
            f.metadata["check"].check(getattr(cfg, f.name), f.name)


def check_options(args: argparse.Namespace, rules: dict[str, Rule]) -> None:
    """Check a command's own options ({dest: rule}) as the run settings are: a one-line
    SeqlabError naming the first flag whose value its rule refuses (None: not given)."""
    for dest, rule in rules.items():
        rule.check(getattr(args, dest), "--" + dest.replace("_", "-"))


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config as plain nested dicts (JSON- and checkpoint-safe)."""
    return dataclasses.asdict(cfg)


def changed_settings(saved: Any, new: Any, sections: Iterable[str]) -> list[str]:
    """Dotted names of the fields of `sections` whose values differ between two run configs
    (a saved one read with `config_from_dict`, so fields added since take their defaults)."""
    changed = []
    for name in sections:
        old_sec, new_sec = getattr(saved, name), getattr(new, name)
        for f in dataclasses.fields(new_sec):
            if getattr(old_sec, f.name) != getattr(new_sec, f.name):
                changed.append(f"{name}.{f.name}")
    return changed


def replaced(cfg: Any, **changes: Any) -> Any:
    """`cfg` with each of `changes` that is not None (saved settings, overridden by options)."""
    return dataclasses.replace(cfg, **{k: v for k, v in changes.items() if v is not None})


# -- command-line options ---------------------------------------------------------------------


def _number(text: str) -> int | float:
    """A count ("2000") or a fraction ("0.1")."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def optional_int(text: str) -> int | None:
    """An integer, or "none" for no limit."""
    return None if text.lower() == "none" else int(text)


def _parser_of(hint: Any) -> Callable[[str], Any] | None:
    """The argparse type of an annotation (bool fields are flags instead)."""
    args = frozenset(a for a in typing.get_args(hint) if a is not type(None)) or {hint}
    return {frozenset({int, float}): _number, frozenset({int}): int, frozenset({float}): float}.get(
        frozenset(args)
    )


def add_options(
    group_for: Callable[[str], Any],
    run_class: type,
    defaults: dict[str, dict[str, Any]] | None = None,
    choices: dict[str, Iterable[str]] | None = None,
) -> None:
    """Add every CLI field of every section of `run_class`, section by section: `group_for(
    section name)` gives the argparse group. `defaults` ({section: {field: value}}) are the
    command's own defaults where they differ from the dataclass's (shown in --help);
    `choices` ({field: values}) the command's choices for a field (e.g. its monitors). The
    dest of each option is its option name; values not given stay unset (SUPPRESS)."""
    for sec in dataclasses.fields(run_class):
        cls = typing.get_type_hints(run_class)[sec.name]
        own = (defaults or {}).get(sec.name, {})
        group = group_for(sec.name)
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not f.metadata.get("cli", False):
                continue
            flag = flag_of(f)
            default = own.get(f.name, f.default)
            if default is _MISSING and f.default_factory is not _MISSING:
                default = f.default_factory()
            help = f.metadata["help"]
            if f.metadata["show_default"] and default is not None and hints[f.name] is not bool:
                help += f" (default: {default})"
            kw: dict[str, Any] = {"dest": option_name(f), "help": help}
            if hints[f.name] is bool:
                kw["action"] = argparse.BooleanOptionalAction
            else:
                parse = f.metadata["parse"] or _parser_of(hints[f.name])
                if parse is not None:
                    kw["type"] = parse
            kw |= {k: f.metadata[k] for k in ("choices", "metavar") if f.metadata[k] is not None}
            if choices and f.name in choices:
                kw["choices"] = tuple(choices[f.name])
            group.add_argument(flag, **kw)


def run_from_options(run_class: type, flat: dict[str, Any], source: str) -> Any:
    """A run config from flat option values (option names of any section, as presets, old
    checkpoints and the studies give them)."""
    return config_from_dict(run_class, nest(run_class, flat, source), source)


def flatten(run: Any, sections: Iterable[str] | None = None) -> dict[str, Any]:
    """{option name: value} of the fields of `sections` (default: all) of a run config: the
    inverse of `run_from_options`."""
    out = {}
    for sec in dataclasses.fields(run):
        if sections is not None and sec.name not in sections:
            continue
        for f in dataclasses.fields(getattr(run, sec.name)):
            out[option_name(f)] = getattr(getattr(run, sec.name), f.name)
    return out


def command_line(prefix: str, run: Any, leave_out: Iterable[str] = ()) -> str:
    """`prefix` and the flags that set each field of `run` that differs from its default
    (except the options named in `leave_out`): a run's reproducing command line."""
    parts = [prefix]
    default = type(run)()
    for sec in dataclasses.fields(run):
        value, base = getattr(run, sec.name), getattr(default, sec.name)
        for f in dataclasses.fields(value):
            v, flag = getattr(value, f.name), flag_of(f)
            if not f.metadata.get("cli", True) or v == getattr(base, f.name):
                continue
            if option_name(f) in leave_out:
                continue
            if isinstance(v, list | tuple):
                v = ",".join(map(str, v))
            parts.append(flag if v is True else f"--no-{flag[2:]}" if v is False else f"{flag} {v}")
    return " ".join(parts)
