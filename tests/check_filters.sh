#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# check_filters.sh BINARY FILTER...: every gtest filter that tests/meson.build
# runs BINARY with selects at least one test. gtest 1.12 exits 0 when a
# filter matches nothing, so a renamed case would otherwise pass, silently,
# with zero tests run.
set -euo pipefail

bin=$1
shift
bad=0
for f in "$@"; do
  n=$("$bin" --gtest_list_tests "--gtest_filter=$f" | grep -c '^  ' || true)
  if [ "$n" -eq 0 ]; then
    echo "FAIL: $(basename "$bin"): filter '$f' selects no test"
    bad=1
  fi
done
[ $bad -eq 0 ] && echo "ok: $(basename "$bin"): $# filters, each selects at least one test"
exit $bad
