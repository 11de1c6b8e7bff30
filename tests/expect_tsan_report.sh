#!/usr/bin/env bash
# expect_tsan_report.sh COMMAND...: passes when ThreadSanitizer reports a data
# race in COMMAND (a TSan-only mutant must be caught), fails when it does not.
out=$("$@" 2>&1)
rc=$?
if echo "$out" | grep -q 'WARNING: ThreadSanitizer: data race'; then
  echo "ok: ThreadSanitizer reported the race (exit $rc)"
  echo "$out" | grep -A12 'WARNING: ThreadSanitizer' | head -30
  exit 0
fi
echo "FAIL: no ThreadSanitizer report (exit $rc)"
echo "$out" | tail -20
exit 1
