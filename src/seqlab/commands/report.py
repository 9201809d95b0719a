"""`seqlab report RUN_DIR`: a finished run as one self-contained HTML page (the explorer's Run
page with its CSS, JS and data inlined), to open offline or attach to a note."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the Run page of the run in `run_dir` to `out` (default RUN_DIR/report.html)."""
    from seqlab.atomic import write_text_atomic
    from seqlab.serve.html import standalone
    from seqlab.serve.runs import read_run

    run = read_run(run_dir)
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    title = f"seqlab run {run['name']}" + (f" ({run['task']})" if run["task"] else "")
    write_text_atomic(path, standalone("run", title, run))
    return path


def run_report(args: argparse.Namespace) -> int:
    """Handler of `seqlab report`."""
    path = write_report(args.run_dir, args.out)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `report` to the seqlab command line."""
    p = subparsers.add_parser(
        "report",
        help="write a finished run's curves and metrics as one self-contained HTML file",
        description="Read RUN_DIR/results.json (and the checkpoint and test-report.json "
        "beside it) and write the explorer's Run page - learning curves, test metrics, "
        "per-class report, confusion matrix - as one HTML file with everything inlined.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="the --out folder of `seqlab train`")
    p.add_argument("--out", default=None, help="the HTML file (default: RUN_DIR/report.html)")
    p.set_defaults(func=run_report)
