#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# tools/slurm-shards.sh: submit a sharded run to Slurm: the job array of
# tools/shards.sbatch (N shards) and a merge job that runs once every shard
# succeeded (afterok). Run from the repository root.
#
#   tools/slurm-shards.sh N mutate|stress [ARGS...]
#   e.g. tools/slurm-shards.sh 16 mutate --filter core/rmap.h --filter core/gup.h
#        tools/slurm-shards.sh 8 stress --kill-matrix --seeds 40
#
# The merged report: results/KIND-campaign-JOB.json.
set -euo pipefail
usage="usage: tools/slurm-shards.sh N mutate|stress [ARGS...]"
n=${1:?$usage}
kind=${2:?$usage}
shift 2
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "slurm-shards: N must be a positive integer, not '$n'; $usage" >&2; exit 2; }
[[ $kind == mutate || $kind == stress ]] || { echo "slurm-shards: '$kind' is not mutate or stress; $usage" >&2; exit 2; }
jid=$(sbatch --parsable --array=1-"$n" tools/shards.sbatch "$kind" "$@")
jid=${jid%%;*}
sbatch --parsable --dependency=afterok:"$jid" --job-name=anonx-merge \
  --output="anonx-merge-$jid.log" --wrap \
  "/usr/bin/python3 tools/merge_reports.py results/shards/$kind-$jid-*.json -o results/$kind-campaign-$jid.json"
echo "submitted: array $jid ($kind, shards 1-$n); merge after it: results/$kind-campaign-$jid.json"
