#!/bin/bash
# tools/mutate-slurm.sh: submit a sharded mutation campaign to Slurm: the
# job array of tools/mutate.sbatch (N shards) and a merge job that runs
# once every shard succeeded (afterok). Run from the repository root.
#
#   tools/mutate-slurm.sh N [MUTATE ARGS...]
#   e.g. tools/mutate-slurm.sh 16 --filter core/rmap.h --filter core/gup.h
#
# The merged report is results/mutate-campaign-JOB.json.
set -euo pipefail
n=${1:?usage: tools/mutate-slurm.sh N [MUTATE ARGS...]}
shift
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "mutate-slurm: N must be a positive integer, not '$n'" >&2; exit 2; }
jid=$(sbatch --parsable --array=1-"$n" tools/mutate.sbatch "$@")
jid=${jid%%;*}
sbatch --parsable --dependency=afterok:"$jid" --job-name=anonx-mutate-merge \
  --output="anonx-mutate-$jid-merge.log" --wrap \
  "/usr/bin/python3 tools/mutate.py --merge results/shards/mutate-$jid-*.json --out results/mutate-campaign-$jid.json"
echo "submitted: array $jid (shards 1-$n), merge after it: results/mutate-campaign-$jid.json"
