"""The `seqlab` command line: its commands, the options of every training command (one per
field of the run config), and checkpoints given to the wrong command."""

import dataclasses
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from seqlab.cli import main
from seqlab.commands.options import GROUP_TITLES
from seqlab.config import flag_of, options
from seqlab.tasks.configs import ClassifyRun, FinetuneRun, LMRun, TranslateRun

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"


def test_help_lists_commands(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "seqlab", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("seqlab ")


# Fields that have no flag on purpose: --dry-run sets limit_batches.
NO_FLAG = {("train", "limit_batches")}


def help_groups(argv: list[str], capsys) -> dict[str, str]:
    """The --help text of a command, by option group title ("data", "model", ...)."""
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    groups: dict[str, str] = {}
    title = ""
    for line in capsys.readouterr().out.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            title = line[:-1]
        else:
            groups[title] = groups.get(title, "") + line + "\n"
    return groups


@pytest.mark.parametrize(
    "argv, run_class",
    [
        (["train", "classify"], ClassifyRun),
        (["train", "lm"], LMRun),
        (["train", "translate"], TranslateRun),
        (["finetune"], FinetuneRun),
    ],
)
def test_help_of_a_training_command_lists_every_field_of_its_run(
    argv, run_class, capsys, monkeypatch
):
    """Every field of every section has its flag, in the section's group of --help (a field
    added without a `setting(...)` flag fails here), and the flag names that field."""
    monkeypatch.setenv("COLUMNS", "200")  # one line per option
    groups = help_groups(argv, capsys)
    table = options(run_class)
    hints = typing.get_type_hints(run_class)
    for sec in dataclasses.fields(run_class):
        text = groups[GROUP_TITLES[sec.name]]
        for f in dataclasses.fields(hints[sec.name]):
            flag = flag_of(f)
            listed = re.search(rf"^\s+{re.escape(flag)}[\s,]", text, re.MULTILINE)
            if (sec.name, f.name) in NO_FLAG:
                assert not listed and not f.metadata["cli"], flag
                continue
            assert f.metadata.get("cli"), f"{sec.name}.{f.name} is not a setting(...)"
            assert listed, f"{sec.name}.{f.name}: {flag} is not in the {sec.name} group"
            assert table[flag[2:].replace("-", "_")] == (sec.name, f.name)
            if f.metadata["help"]:
                first = f.metadata["help"].split()[0]
                assert first in text, f"{flag}: its help text is missing"


def fixture(task: str) -> str:
    if task == "finetune":
        pytest.importorskip("transformers")
    return str(FIXTURES / task / "best.pt")


USE = {
    "classify": "seqlab predict {} TEXT",
    "finetune": "seqlab predict {} TEXT",
    "lm": "seqlab generate {} --prompt TEXT",
    "translate": "seqlab translate {} TEXT",
}


@pytest.mark.parametrize(
    "command, task, what",
    [
        (["predict", "{}", "some text"], "lm", "a classifier"),
        (["predict", "{}", "some text"], "translate", "a classifier"),
        (["generate", "{}", "--words", "2"], "classify", "a language model"),
        (["generate", "{}", "--words", "2"], "translate", "a language model"),
        (["generate", "{}", "--words", "2"], "finetune", "a language model"),
        (["translate", "{}", "Ein Hund ."], "classify", "a translator"),
        (["translate", "{}", "Ein Hund ."], "lm", "a translator"),
        (["translate", "{}", "Ein Hund ."], "finetune", "a translator"),
    ],
)
def test_a_checkpoint_of_another_task_says_how_it_is_used(command, task, what, capsys):
    path = fixture(task)
    assert main([a.format(path) for a in command]) == 2
    captured = capsys.readouterr()
    use = USE[task].format(path)
    err = captured.err
    assert err.startswith(f"seqlab: error: {path} ") and err.count("\n") == 1  # one line
    assert f" {task} " in err and err.endswith(f"not {what}; use `{use}`\n"), err
    assert captured.out == ""
