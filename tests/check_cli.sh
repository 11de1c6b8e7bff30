#!/usr/bin/env bash
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
exit $fail
