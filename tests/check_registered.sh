#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# check_registered.sh BINARY CASE...: the gtest cases BINARY contains are
# exactly the CASEs tests/meson.build registers for it (tests/list_cases.py's
# scan of its sources). A case missing there would never run; a registered
# name that matches nothing would pass with zero tests run.
set -euo pipefail

bin=$1
shift
have=$("$bin" --gtest_list_tests | awk '/^[^ ]/ { suite = $1; next } { print suite $1 }' | sort)
want=$(printf '%s\n' "$@" | sort)
if [ "$have" != "$want" ]; then
  echo "FAIL: $(basename "$bin"): gtest cases and meson registrations differ"
  diff <(echo "$want") <(echo "$have") | sed 's/^</  only in the scan:/; s/^>/  only in the binary:/' | grep only || true
  echo "  (the cases are scanned at configure time by tests/list_cases.py: a TEST it cannot read, or a build not reconfigured)"
  exit 1
fi
echo "ok: $(basename "$bin"): $# cases, all registered"
