#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# check_cli.sh ANONX_STRESS: bad input gets exit 2 and one line naming the
# bad value (then the usage).
bin=$1
fail=0
check() { # expected-substring args...
  local want=$1
  shift
  out=$("$bin" "$@" 2>&1 >/dev/null)
  rc=$?
  first=$(echo "$out" | head -n 1)
  if [ $rc -ne 2 ] || ! echo "$first" | grep -qF -- "$want"; then
    echo "FAIL: $* -> exit $rc, first line: $first"
    fail=1
  else
    echo "ok: $* -> $first"
  fi
}
check "'0'" --threads 0
check "'v9'" --protocol v9
check "'nope'" --scenario nope
check "'-1'" --duration -1
check "'3/2'" --shard 3/2
check "'bogus'" --mutant bogus
check "'--frobnicate'" --frobnicate
check "'x'" --preempt x
check "'2000000'" --preempt 2000000
check "'x'" --checkpoint x
check "'-1'" --stat-interval -1
check "'5'" --checkpoint 5
check "--threads: missing value" --threads
check "--json: missing value" --json
# An unwritable --json FILE is bad usage found before the run (exit 2, not a
# 30 s run that ends in an internal error and loses its report), and leaves
# no temporary file behind.
run=(--scenario fork_vs_pin --duration 30)
check "'/nonexistent/dir/r.json': No such file or directory" "${run[@]}" --json /nonexistent/dir/r.json
tmp=$(mktemp -d)
trap 'chmod 700 "$tmp"; rm -rf "$tmp"' EXIT
check "'$tmp': Is a directory" "${run[@]}" --json "$tmp"
if [ "$(id -u)" -ne 0 ]; then # root writes into a read-only directory
  mkdir "$tmp/ro" && chmod 555 "$tmp/ro"
  check "'$tmp/ro/r.json': Permission denied" "${run[@]}" --json "$tmp/ro/r.json"
else
  echo "skip: read-only directory (running as root)"
fi
if [ -n "$(find "$tmp" -name '*.tmp.*')" ]; then
  echo "FAIL: a temporary report was left in $tmp"
  fail=1
fi
exit $fail
