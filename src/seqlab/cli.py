"""The `seqlab` command line: sub-commands are registered by the modules in `seqlab.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

from seqlab import __version__
from seqlab.errors import SeqlabError

# Each module defines `register(subparsers)`, adding parsers whose `func(args) -> int | None` runs
# the command. Modules import torch & co. inside their handlers, so `seqlab --help` stays fast.
COMMAND_MODULES = [
    "seqlab.commands.examples",
    "seqlab.commands.data",
    "seqlab.commands.summary",
    "seqlab.commands.train",
    "seqlab.commands.evaluate",
    "seqlab.commands.predict",
    "seqlab.commands.finetune",
    "seqlab.commands.generate",
    "seqlab.commands.translate",
    "seqlab.commands.study",
    "seqlab.commands.serve",
    "seqlab.commands.report",
]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose unknown-option errors come from the (sub-)command that knows them.

    argparse hands a sub-command's leftovers up to the top-level parser, whose message would list
    the wrong options; a leaf parser (one without sub-commands) reports them itself instead.
    """

    def parse_known_args(self, args=None, namespace=None):  # noqa: D102 - argparse API
        namespace, extras = super().parse_known_args(args, namespace)
        # A trailing list of words (`seqlab translate CKPT --beam 5 "Ein Mann ."`): argparse
        # fills `nargs="*"` before the options and leaves the words after them over.
        name = getattr(namespace, "trailing_words", None)
        if extras and name and not any(e.startswith("-") for e in extras):
            setattr(namespace, name, [*getattr(namespace, name), *extras])
            extras = []
        if extras and self._subparsers is None:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        if "unrecognized arguments" in message:
            options = sorted(
                {s for a in self._actions for s in a.option_strings if s.startswith("--")}
            )
            message += "\nvalid options: " + " ".join(options)
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every sub-command that is installed."""
    parser = _Parser(
        prog="seqlab",
        description="Sequence models from first principles to fast CPU training.",
    )
    parser.add_argument("--version", action="version", version=f"seqlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # the command is not written yet; the others still work
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `seqlab` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SeqlabError as e:
        print(f"seqlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seqlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `seqlab ... | head`: the reader left; exit quietly
        sys.stderr.close()
        return 141


if __name__ == "__main__":
    sys.exit(main())
