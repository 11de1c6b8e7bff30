#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# check_stress_shards.sh: anonx-stress's own --shard runs on the same two
# engines and the same merge as a mutation campaign (issue 11).
#
#   check_stress_shards.sh ANONX_STRESS SOURCE_ROOT
#
# The coverage run (every feasible cell, a few iterations each):
#   1. unsharded;
#   2. two shards under GNU parallel on localhost;
#   3. two shards through tools/shards.sbatch as Slurm runs array tasks
#      (SLURM_ARRAY_* set; no Slurm here);
# each merged with tools/merge_reports.py. Passes when every run exits 0,
# the shards are disjoint and not empty, and both merged reports hold
# exactly the unsharded run's cells, in one coverage table.
set -euo pipefail
stress=$(realpath "$1")
src=$2
command -v parallel >/dev/null || { echo "FAIL: GNU parallel is not installed (Debian parallel)"; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(--coverage --protocol v6.2 --duration 0.001 --quiet)
"$stress" "${common[@]}" --json "$out/whole.json" > /dev/null
parallel --halt now,fail=1 "$stress" "${common[@]}" --shard {}/2 --json "$out/p{}.json" \
  ::: 1 2 > /dev/null
python3 "$src/tools/merge_reports.py" "$out/p1.json" "$out/p2.json" -o "$out/parallel.json"
for task in 1 2; do
  (cd "$src" && SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_JOB_ID=0 \
    ANONX_SHARD_DIR="$out" ANONX_STRESS="$stress" tools/shards.sbatch stress "${common[@]}") > /dev/null
done
python3 "$src/tools/merge_reports.py" "$out/stress-0-1.json" "$out/stress-0-2.json" -o "$out/slurm.json"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def cells(name):
    return [(c['cell'], c['platform']) for c in json.load(open('%s/%s.json' % (out, name)))['coverage']['cells']]
whole = cells('whole')
fails = []
for engine, a, b in (('parallel', 'p1', 'p2'), ('slurm', 'stress-0-1', 'stress-0-2')):
    s1, s2 = set(cells(a)), set(cells(b))
    if not s1 or not s2 or s1 & s2:
        fails.append('%s: shards of %d and %d cells, %d in both' % (engine, len(s1), len(s2), len(s1 & s2)))
    merged = json.load(open('%s/%s.json' % (out, engine)))['coverage']
    got = [(c['cell'], c['platform']) for c in merged['cells']]
    if sorted(got) != sorted(whole) or merged['run'] != len(whole):
        fails.append('%s: the merged report has %d cells, the unsharded run %d' % (engine, len(got), len(whole)))
for f in fails:
    print('FAIL: ' + f)
print('%d cells; parallel and sbatch shards merged: %s' % (len(whole), 'FAILED' if fails else 'ok'))
sys.exit(1 if fails else 0)
PY
