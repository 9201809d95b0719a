"""`seqlab data info imdb` on all of the real IMDB, cold then warm: the known counts, and the
token-id cache answering the second call without tokenizing again.

Cold: read, tokenize (basic_english) and count both splits of 25,000 reviews, build the
vocabulary on train, into a fresh cache. Warm: the same command with tokenizing forbidden.
Asserts the counts (25,000 reviews per split, 12,500 of each label) and that the warm output
equals the cold one; prints both tables and the time of each call. The test suite checks the
same on a small synthetic IMDB (tests/test_data_cli.py).

    python benchmarks/imdb_cache.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from unittest import mock

from seqlab.cli import main as seqlab

from common import machine


def info(*args: str) -> tuple[str, float]:
    """The output of `seqlab data info ARGS` and its wall time."""
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        assert seqlab(["data", "info", *args]) == 0
    return out.getvalue(), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data folder (default: $SEQLAB_DATA or ../shared/data)")
    args = parser.parse_args()
    where = ["--data-dir", args.data_dir] if args.data_dir else []
    print(machine())
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SEQLAB_CACHE"] = cache  # cold: nothing cached yet
        cold, cold_s = info("imdb", *where)
        print(cold, end="")
        assert cold.splitlines()[3].split()[:4] == ["train", "25,000", "12,500", "12,500"]
        assert cold.splitlines()[4].split()[:4] == ["test", "25,000", "12,500", "12,500"]

        def no_tokenizing(*args, **kwargs):
            raise AssertionError("the second call re-tokenized instead of reading the cache")

        with mock.patch("seqlab.data.text.TextEncoder.fit_encode", no_tokenizing):
            warm, warm_s = info("imdb", *where)
        assert warm == cold
    print(f"cold (tokenize, count, cache) {cold_s:.1f} s; warm (from the cache) {warm_s:.1f} s")
    print("all checks passed")


if __name__ == "__main__":
    main()
