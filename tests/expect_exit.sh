#!/usr/bin/env bash
# expect_exit.sh CODE COMMAND...: passes when COMMAND exits with exactly CODE
# (a crash or another failure does not count as the expected failure).
want=$1
shift
"$@"
rc=$?
if [ "$rc" -ne "$want" ]; then
  echo "FAIL: expected exit $want, got $rc: $*"
  exit 1
fi
echo "ok: exit $rc as expected"
