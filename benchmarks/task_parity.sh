#!/usr/bin/env bash
# Seeded real-data runs, one per task (issue 18: the task layer rewrite must print the same
# numbers). Usage: bash benchmarks/task_parity.sh OUT; then python benchmarks/task_parity.py OUT
# prints the figures to compare (benchmarks/results/task-parity-before.txt: the code of e9a8313;
# task-parity-after.txt: after the task-layer rewrite; identical. AMD EPYC kind, 1 thread;
# the runs shared the cores with other jobs, which changes times only).
set -euo pipefail
OUT=${1:?out dir}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
seqlab train classify --data imdb --limit 2000 --model gru --embed 32 --hidden 32 --max-length 100 \
  --epochs 2 --batch-size 32 --seed 1 --threads 1 --out "$OUT/classify" > "$OUT/classify.txt" 2>&1
seqlab evaluate "$OUT/classify/best.pt" --split test > "$OUT/classify-eval.txt" 2>&1
seqlab predict "$OUT/classify/best.pt" "A wonderful, moving film." "Two hours I will never get back." > "$OUT/classify-predict.txt" 2>&1
seqlab train lm --data wikitext-2 --model lstm --embed 32 --hidden 64 --layers 1 --max-vocab 2000 \
  --epochs 1 --batch-size 64 --seed 1 --threads 1 --out "$OUT/lm" > "$OUT/lm.txt" 2>&1
seqlab evaluate "$OUT/lm/best.pt" --split test > "$OUT/lm-eval.txt" 2>&1
seqlab generate "$OUT/lm/best.pt" --prompt "the game" --words 10 --num 2 --seed 3 > "$OUT/lm-generate.txt" 2>&1
seqlab train translate --data multi30k --limit 3000 --model transformer --embed 64 --hidden 128 --layers 2 \
  --heads 4 --epochs 2 --batch-size 64 --beam 2 --seed 1 --threads 1 --out "$OUT/translate" > "$OUT/translate.txt" 2>&1
seqlab translate "$OUT/translate/best.pt" "Ein Mann fährt Fahrrad." --beam 3 > "$OUT/translate-translate.txt" 2>&1
seqlab finetune --model minilm --data trec --strategy head --limit 500 --lr 1e-2 --epochs 1 --seed 1 --threads 1 \
  --out "$OUT/finetune" > "$OUT/finetune.txt" 2>&1
seqlab evaluate "$OUT/finetune/best.pt" > "$OUT/finetune-eval.txt" 2>&1
seqlab predict "$OUT/finetune/best.pt" "Who wrote Hamlet?" "How far away is the Moon?" > "$OUT/finetune-predict.txt" 2>&1
seqlab summary --checkpoint "$OUT/classify/best.pt" > "$OUT/classify-summary.txt" 2>&1
echo done
