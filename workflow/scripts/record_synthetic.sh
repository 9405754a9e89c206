#!/usr/bin/env bash
# The synthetic reproduction of record (issue 13, item 3): every cell of the paper's grid (3 data sets x
# {EBIPLA, LEBM} x N in {4, 16, 64}) at seed 0 and the paper's settings (config/synthetic/paper/), trained and
# evaluated with the project's own commands, the results of record copied to docs/results/synthetic-paper-seed0/.
#
#   bash workflow/scripts/record_synthetic.sh [CELL ...]    # default: every cell not yet recorded, in grid order
#   JOBS=2 bash workflow/scripts/record_synthetic.sh          # two cells at a time, one thread each
#
# A cell whose docs/results/synthetic-paper-seed0/<cell>/metrics.json exists is skipped, so the script can be rerun
# across sessions; a cell interrupted mid-run resumes from results/record/<cell>/checkpoint.pt. The runs recover
# from a divergence as the workflow's do (train.divergence.action=recover). When every cell is recorded it writes
# the table (synthetic_mmd.{csv,md,tex,html}) and Figure 1 (figure1.{png,pdf}) from the recorded cells.
set -euo pipefail
cd "$(dirname "$0")/../.."
EBIPLA=${EBIPLA:-.venv/bin/ebipla}
DEST=docs/results/synthetic-paper-seed0
JOBS=${JOBS:-1}
ALL=()
for d in swissroll moons circle; do for m in ebipla lebm; do for n in 4 16 64; do ALL+=("${d}_${m}_n${n}"); done; done; done

record_cell() {
    local cell=$1 run=results/record/$1
    OMP_NUM_THREADS=1 $EBIPLA train --config "config/synthetic/paper/$cell.yaml" \
        --set train.divergence.action=recover --out "$run" > "results/record/$cell.log" 2>&1
    OMP_NUM_THREADS=1 $EBIPLA evaluate --run "$run" >> "results/record/$cell.log" 2>&1
    mkdir -p "$DEST/$cell"
    for f in metrics.json config.yaml train_summary.json train_metrics.jsonl samples.npz landscape.npz; do
        cp "$run/$f" "$DEST/$cell/$f.tmp" && mv "$DEST/$cell/$f.tmp" "$DEST/$cell/$f"
    done
    echo "recorded $cell: $(grep -o '"mmd2": [^,]*' "$DEST/$cell/metrics.json")"
}

cells=("$@")
[ ${#cells[@]} -eq 0 ] && for c in "${ALL[@]}"; do [ -f "$DEST/$c/metrics.json" ] || cells+=("$c"); done
mkdir -p results/record
running=0
for cell in "${cells[@]}"; do
    record_cell "$cell" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

missing=0
for c in "${ALL[@]}"; do [ -f "$DEST/$c/metrics.json" ] || missing=$((missing + 1)); done
if [ "$missing" -gt 0 ]; then echo "$missing of ${#ALL[@]} cells not recorded yet; table and figure not written"; exit 0; fi
mkdir -p results/data/synthetic
for d in swissroll moons circle; do
    [ -f "results/data/synthetic/$d.npz" ] || $EBIPLA data --set "data.name=$d" --out "results/data/synthetic/$d.npz"
done
$EBIPLA report synthetic-mmd "$DEST"/*/metrics.json --out "$DEST/synthetic_mmd" \
    --caption "Synthetic reproduction of record: seed 0, paper settings (200 epochs, B = 1000, J = 500)"
$EBIPLA report samples-landscapes --runs "$DEST"/*_n* \
    --data results/data/synthetic/{swissroll,moons,circle}.npz --out "$DEST/figure1" \
    --caption "Figure 1 of record: seed 0, paper settings (200 epochs, J = 500)"
