"""The source tree keeps the shape docs/design.md describes: files by concern (none over 400
lines), every task a module with a TASK, every training option declared once in a run config."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from seqlab.config import flag_of
from seqlab.tasks import TASKS, get_task

SRC = Path(__file__).parent.parent / "src" / "seqlab"


def test_no_source_file_is_over_400_lines():
    sizes = {p.relative_to(SRC): len(p.read_text().splitlines()) for p in SRC.rglob("*.py")}
    assert len(sizes) > 50
    assert {p: n for p, n in sizes.items() if n > 400} == {}


@pytest.mark.parametrize("name", TASKS)
def test_each_task_is_a_module_with_a_run_config_whose_options_are_unique(name):
    task = get_task(name)
    assert task.name == name
    sections = typing.get_type_hints(task.run_class)
    assert {"data", "model", "train"} <= set(sections)
    flags = [flag_of(f) for cls in sections.values() for f in dataclasses.fields(cls)]
    assert len(flags) == len(set(flags))  # a flat option name finds exactly one field
