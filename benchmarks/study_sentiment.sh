#!/usr/bin/env bash
# The full IMDB sentiment study (tables a-f; several hours on 2 CPU cores).
# Resumable: re-running the same command skips every run whose result is already in the folder.
# Usage: benchmarks/study_sentiment.sh [extra options, e.g. --only a,b or --data-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
exec seqlab study sentiment --out benchmarks/results/sentiment-study "$@"
