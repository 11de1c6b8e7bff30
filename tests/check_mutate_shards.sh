#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# check_mutate_shards.sh: a mutation campaign sharded on GNU parallel gives
# the verdicts of the unsharded run (issue 11).
#
#   check_mutate_shards.sh SOURCE_ROOT WORKDIR
#
# The mutants of gup_pte_range (GUP-fast's PTE walk: a few dozen sites),
# against the two sequential checks (ordering, paths: deterministic, so
# the verdicts must agree exactly), on the schemata engine in WORKDIR
# (one build of two test binaries, shared by every run below):
#   1. unsharded: one report;
#   2. two shards on localhost: `parallel ... --shard {}/2 ::: 1 2`;
#   3. the shard reports merged with tools/merge_reports.py;
#   4. the same two shards through tools/shards.sbatch, run as Slurm would
#      run its array tasks (SLURM_ARRAY_* set; no Slurm here), merged too.
# Passes when both shards ran some mutants, the merged report holds each
# id once and exactly the ids of the unsharded run, every verdict agrees,
# and the run has both a killed and a surviving mutant (a run where every
# verdict is the same could hide a runner that decides nothing).
set -euo pipefail
src=$1
work=$2
py=/usr/bin/python3
if ! $py -c 'import clang.cindex' 2>/dev/null; then
  echo "SKIP: no clang.cindex for $py (python3-clang-14)"
  exit 77
fi
command -v parallel >/dev/null || { echo "FAIL: GNU parallel is not installed (Debian parallel)"; exit 1; }
mkdir -p "$work"
out=$(mktemp -d "$work/reports.XXXXXX")
trap 'rm -rf "$out"' EXIT
common=(--run --filter gup_pte_range --checks ordering,paths --workdir "$work/tree" --jobs 2)

$py "$src/tools/mutate.py" "${common[@]}" --out "$out/whole.json" > "$out/whole.log" ||
  { cat "$out/whole.log"; echo "FAIL: the unsharded run"; exit 1; }
parallel --halt now,fail=1 --line-buffer \
  $py "$src/tools/mutate.py" "${common[@]}" --no-baseline --shard {}/2 --out "$out/shard{}.json" \
  ::: 1 2 > "$out/shards.log" ||
  { cat "$out/shards.log"; echo "FAIL: a shard under GNU parallel"; exit 1; }
$py "$src/tools/merge_reports.py" "$out/shard1.json" "$out/shard2.json" -o "$out/merged.json"
for task in 1 2; do
  (cd "$src" && SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_JOB_ID=0 \
    ANONX_SHARD_DIR="$out" ANONX_MUTATE_WORKDIR="$work/tree" \
    tools/shards.sbatch mutate --filter gup_pte_range --checks ordering,paths --no-baseline) \
    > "$out/slurm$task.log" || { cat "$out/slurm$task.log"; echo "FAIL: tools/shards.sbatch task $task"; exit 1; }
done
$py "$src/tools/merge_reports.py" "$out/mutate-0-1.json" "$out/mutate-0-2.json" -o "$out/slurm.json"

$py - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
load = lambda name: json.load(open('%s/%s.json' % (out, name)))['mutants']
whole, merged, slurm = load('whole'), load('merged'), load('slurm')
shards = [load('shard1'), load('shard2')]
fails = []
if [(m['id'], m['verdict']) for m in slurm] != [(m['id'], m['verdict']) for m in merged]:
    fails.append('the shards of tools/shards.sbatch differ from those of parallel')
if not all(shards):
    fails.append('a shard ran no mutant: %s' % [len(s) for s in shards])
ids = [m['id'] for m in merged]
if len(ids) != len(set(ids)):
    fails.append('the merged report repeats ids')
w = {m['id']: m['verdict'] for m in whole}
g = {m['id']: m['verdict'] for m in merged}
if set(w) != set(g):
    fails.append('ids differ: only unsharded %s, only merged %s' % (
        sorted(set(w) - set(g))[:3], sorted(set(g) - set(w))[:3]))
for i in sorted(set(w) & set(g)):
    if w[i] != g[i]:
        fails.append('%s: %s unsharded, %s sharded' % (i, w[i], g[i]))
verdicts = set(w.values())
if not any(v.startswith('killed') for v in verdicts) or 'survived' not in verdicts:
    fails.append('the run needs a killed and a surviving mutant: %s' % sorted(verdicts))
for f in fails:
    print('FAIL: ' + f)
print('%d mutants, shards of %d and %d (parallel and sbatch alike), verdicts %s: %s' % (
    len(w), len(shards[0]), len(shards[1]),
    {v: list(w.values()).count(v) for v in sorted(verdicts)}, 'FAILED' if fails else 'ok'))
sys.exit(1 if fails else 0)
EOF
