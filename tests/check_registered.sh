#!/usr/bin/env bash
# check_registered.sh BINARY CASE...: the gtest cases BINARY contains are
# exactly the CASEs tests/meson.build registers for it. A case missing from
# meson would never run; a registered name that matches nothing would pass
# with zero tests run.
set -euo pipefail

bin=$1
shift
have=$("$bin" --gtest_list_tests | awk '/^[^ ]/ { suite = $1; next } { print suite $1 }' | sort)
want=$(printf '%s\n' "$@" | sort)
if [ "$have" != "$want" ]; then
  echo "FAIL: $(basename "$bin"): gtest cases and meson registrations differ"
  diff <(echo "$want") <(echo "$have") | sed 's/^</  only in meson.build:/; s/^>/  only in the binary:/' | grep only || true
  exit 1
fi
echo "ok: $(basename "$bin"): $# cases, all registered"
