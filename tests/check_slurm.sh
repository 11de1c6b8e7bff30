#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# check_slurm.sh: the sharded runs on a real Slurm (issue 28): a one-node
# cluster on the loopback interface, started and stopped here.
#
#   check_slurm.sh SOURCE_ROOT ANONX_STRESS WORKDIR
#
# Debian's munge, slurmctld, slurmd and slurm-client, as root: a munge key
# and a slurm.conf generated in a temporary directory, munged, slurmctld and
# slurmd started on it (ports picked free on 127.0.0.1). Then, each as a
# job array of tools/shards.sbatch (two tasks), against the same run
# unsharded:
#   1. a mutation campaign (the mutants of gup_pte_range against the two
#      sequential checks, as tests/check_mutate_shards.sh; its schemata
#      tree built once by the unsharded run and shared);
#   2. a coverage run (the cells of the excl and shared states).
# Task 1 of the campaign is cancelled halfway (scancel, once it has
# written part of its report) and requeued (scontrol requeue). Passes when
# every task ends COMPLETED, the requeued one with a restart, and each
# merged report (tools/merge_reports.py) equals the unsharded one: the
# same mutants with the same verdicts, the same cells reached and clean,
# each once. Skips (77) with its reason when not root or a package is
# missing; every daemon is stopped on exit.
set -euo pipefail
src=$(realpath "$1")
stress=$(realpath "$2")
work=$3
py=/usr/bin/python3
skip() { echo "SKIP: $1"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "not root (slurmd and munged run as root here)"
for exe in munged mungekey slurmctld slurmd sbatch scancel scontrol squeue sinfo; do
  command -v "$exe" >/dev/null || skip "no $exe: apt-get install munge slurmctld slurmd slurm-client"
done
$py -c 'import clang.cindex' 2>/dev/null || skip "no clang.cindex for $py (python3-clang-14)"
mkdir -p "$work"
work=$(realpath "$work")
# The daemons' files: a short path (a unix socket's name is at most 107 bytes).
d=$(mktemp -d /tmp/anonx-slurm.XXXXXX)
out="$work/reports"
rm -rf "$out"
mkdir -p "$out"
stop() {
  local f
  for f in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munged.pid"; do
    [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  sleep 1
  for f in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munged.pid"; do
    [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$d"
}
trap stop EXIT
fail() {
  echo "FAIL: $1"
  for f in "$d"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
}

# ---- the cluster -------------------------------------------------------------
free_ports=$($py -c 'import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
read -r ctld_port slurmd_port <<<"$free_ports"
mkdir -p "$d/state" "$d/spool"
chmod 700 "$d"
mungekey -c -k "$d/munge.key"
munged -f -S "$d/munge.sock" --key-file="$d/munge.key" --log-file="$d/munged.log" \
  --pid-file="$d/munged.pid" --seed-file="$d/munged.seed" || fail "munged did not start"
mem=$(awk '/MemTotal/ {m = int($2 / 1024) - 1024; print (m > 512 ? m : 512)}' /proc/meminfo)
cat >"$d/slurm.conf" <<EOF
ClusterName=anonx-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$d/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SwitchType=switch/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=anonx Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$d/slurm.conf"
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" -N localhost || fail "slurmd did not start"
for _ in $(seq 60); do
  [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break
  sleep 0.5
done
[ "$(sinfo -h -o %T 2>/dev/null)" = idle ] || fail "the node is not idle: $(sinfo 2>&1 | tail -1)"
echo "cluster up: slurmctld :$ctld_port, slurmd :$slurmd_port, $(nproc) CPUs"

state() { scontrol show job "$1" 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | head -1 | cut -d= -f2; }
wait_state() { # job, state, seconds
  local i
  for ((i = 0; i < $3 * 2; i++)); do
    [ "$(state "$1")" = "$2" ] && return 0
    sleep 0.5
  done
  fail "job $1 is $(state "$1"), not $2, after $3 s"
}

# ---- the unsharded runs --------------------------------------------------------
mutate_args=(--filter gup_pte_range --checks ordering,paths)
cov_args=(--coverage --protocol v6.2 --scenario excl,shared --duration 0.01 --quiet)
$py "$src/tools/mutate.py" --run "${mutate_args[@]}" --workdir "$work/tree" --jobs 2 \
  --out "$out/mutate-whole.json" >"$out/mutate-whole.log" 2>&1 ||
  { tail -20 "$out/mutate-whole.log"; fail "the unsharded campaign"; }
"$stress" "${cov_args[@]}" --json "$out/cov-whole.json" >/dev/null || fail "the unsharded coverage run"

# ---- the job arrays ------------------------------------------------------------
common=(--parsable --array=1-2 --chdir="$src"
  --export=ALL,ANONX_SHARD_DIR="$out",ANONX_MUTATE_WORKDIR="$work/tree",ANONX_STRESS="$stress")
# Submitted from the repository root, as tools/shards.sbatch asks (it runs
# in SLURM_SUBMIT_DIR); meson starts the test in the build tree.
cd "$src"
jm=$(sbatch "${common[@]}" --output="$out/mutate-%A_%a.log" \
  tools/shards.sbatch mutate "${mutate_args[@]}" --no-baseline)
jm=${jm%%;*}
jc=$(sbatch "${common[@]}" --cpus-per-task=1 --output="$out/cov-%A_%a.log" \
  tools/shards.sbatch stress "${cov_args[@]}")
jc=${jc%%;*}
echo "submitted: campaign array $jm, coverage array $jc"

# Halfway: task 1 has finished its first mutant (its log's `[1/N]` line;
# a mutant takes about a second here) and is still running.
wait_state "${jm}_1" RUNNING 120
log1="$out/mutate-${jm}_1.log"
for _ in $(seq 1200); do
  grep -q '^\[1/' "$log1" 2>/dev/null && break
  sleep 0.1
done
scancel "${jm}_1"
wait_state "${jm}_1" CANCELLED 60
partial=$(grep -c '^\[[0-9]*/' "$log1" || true)
echo "cancelled campaign task 1 after $partial of its mutants"
scontrol requeue "${jm}_1"
scontrol update jobid="${jm}_1" StartTime=now # a requeued job waits 120 s otherwise
for job in "${jm}_1" "${jm}_2" "${jc}_1" "${jc}_2"; do
  wait_state "$job" COMPLETED 900
done
restarts=$(scontrol show job "${jm}_1" | grep -oE 'Restarts=[0-9]+' | cut -d= -f2)
[ "${restarts:-0}" -ge 1 ] || fail "campaign task 1 shows no restart (Restarts=${restarts:-?})"

# ---- the merged reports against the unsharded ones -------------------------
$py "$src/tools/merge_reports.py" "$out/mutate-$jm-1.json" "$out/mutate-$jm-2.json" \
  -o "$out/mutate-merged.json"
$py "$src/tools/merge_reports.py" "$out/stress-$jc-1.json" "$out/stress-$jc-2.json" \
  -o "$out/cov-merged.json"
$py - "$out" "$jm" "$jc" "$partial" <<'PY'
import json, sys
out, jm, jc, partial = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
load = lambda name: json.load(open('%s/%s.json' % (out, name)))
fails = []
# The campaign: the same mutants with the same verdicts, each once.
whole = [(m['id'], m['verdict']) for m in load('mutate-whole')['mutants']]
merged = [(m['id'], m['verdict']) for m in load('mutate-merged')['mutants']]
shards = [load('mutate-%s-%d' % (jm, t))['mutants'] for t in (1, 2)]
if not all(shards):
    fails.append('a campaign shard ran no mutant: %s' % [len(s) for s in shards])
if len(merged) != len({i for i, _ in merged}):
    fails.append('the merged campaign repeats ids')
if sorted(merged) != sorted(whole):
    w, g = dict(whole), dict(merged)
    fails.append('the merged campaign differs: %d against %d mutants, first differences %s' % (
        len(merged), len(whole),
        sorted(i for i in set(w) | set(g) if w.get(i) != g.get(i))[:3]))
verdicts = {v for _, v in whole}
if not any(v.startswith('killed') for v in verdicts) or 'survived' not in verdicts:
    fails.append('the campaign needs a killed and a surviving mutant: %s' % sorted(verdicts))
if partial < 1 or partial >= len(shards[0]):
    fails.append('task 1 was not cancelled halfway: %d of its %d mutants done' % (
        partial, len(shards[0])))
# The coverage run: the same cells, reached and clean alike, each once.
def cells(doc):
    return [((c['cell'], c['platform']), (bool(c['reached']), c['violations']))
            for c in doc['coverage']['cells']]
cw, cm = cells(load('cov-whole')), cells(load('cov-merged'))
if len(cm) != len({k for k, _ in cm}):
    fails.append('the merged coverage run repeats cells')
if sorted(cm) != sorted(cw) or load('cov-merged')['coverage']['run'] != len(cw):
    fails.append('the merged coverage run differs: %d cells against %d' % (len(cm), len(cw)))
if any(v != (True, 0) for _, v in cw):
    fails.append('the unsharded coverage run has a cell not reached or not clean')
for f in fails:
    print('FAIL: ' + f)
print('Slurm arrays: %d mutants (%s), task 1 cancelled after %d and requeued; %d cells: %s' % (
    len(whole), {v: [x for _, x in whole].count(v) for v in sorted(verdicts)}, partial, len(cw),
    'FAILED' if fails else 'ok'))
sys.exit(1 if fails else 0)
PY
