#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# expect_tsan_report.sh FUNCTION COMMAND...: passes when ThreadSanitizer
# reports a data race in COMMAND and FUNCTION is in one of the report's
# stacks: a TSan-only mutant must be caught at the site it plants, not by a
# race elsewhere. Fails otherwise.
want=$1
shift
out=$("$@" 2>&1)
rc=$?
report=$(echo "$out" | sed -n '/WARNING: ThreadSanitizer: data race/,/^SUMMARY: ThreadSanitizer/p')
if [ -z "$report" ]; then
  echo "FAIL: no ThreadSanitizer data race report (exit $rc)"
  echo "$out" | tail -20
  exit 1
fi
if ! echo "$report" | grep -E '^ +#[0-9]+ ' | grep -q -- "$want"; then
  echo "FAIL: ThreadSanitizer reported a race, but not at $want (exit $rc):"
  echo "$report" | head -40
  exit 1
fi
echo "ok: ThreadSanitizer reported the race at $want (exit $rc)"
echo "$report" | head -30
exit 0
