import subprocess
import sys

from seqlab.cli import main


def test_help_lists_commands(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "seqlab", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("seqlab ")
