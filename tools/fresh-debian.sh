#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# tools/fresh-debian.sh: the README's commands on the committed HEAD in a bare
# Debian 12 (bookworm, debootstrap --variant=minbase with only git and
# ca-certificates), as a new user's machine would run them.
#
#   tools/fresh-debian.sh                # the README's two checks, each in its own fresh copy:
#                                        #   ./anonx stress && ./anonx test
#                                        #   ./anonx bench --quick && ./anonx report
#   tools/fresh-debian.sh 'CMD' ...      # each CMD instead, in its own fresh copy, in /project
#
# Needs root (debootstrap, chroot, a bind mount of /proc), and the Debian
# package registry this machine's apt already uses: ./anonx installs what it
# needs from it with apt-get, as on a fresh machine. Takes long: every command
# starts from a system with none of the packages and no build tree.
#
# The base system is made once under ${FRESH_ROOT:-/tmp/fresh-bookworm} (about
# a minute; log in $FRESH_ROOT.log) and kept pristine; each command runs in a
# throw-away copy of it, with a clone of this repository checked out at HEAD
# (uncommitted changes are not seen: commit first), and an empty environment
# (HOME, PATH, TERM, LANG only). Its output goes to the terminal and to
# ${FRESH_LOGS:-/tmp}/fresh-debian-<short sha>-<n>.log.
#
# Exit status: 0 every command exited 0, 1 one did not, 2 bad usage or not
# root, 3 the base system could not be made.
set -euo pipefail

die() { # status, message
  echo "fresh-debian: $2" >&2
  exit "$1"
}

case "${1:-}" in
  -h | --help)
    sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac
[ "$(id -u)" -eq 0 ] || die 2 "needs root (debootstrap, chroot, mount)"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null) || die 2 "$here is not in a git checkout"
sha=$(git -C "$top" rev-parse --verify HEAD) || die 2 "$top has no commit"
short=$(git -C "$top" rev-parse --short HEAD)
base=${FRESH_ROOT:-/tmp/fresh-bookworm}
logs=${FRESH_LOGS:-/tmp}
case "$base" in /?*) ;; *) die 2 "FRESH_ROOT must be an absolute path, not '$base'" ;; esac
[ "$base" != / ] || die 2 "FRESH_ROOT must not be /"

cmds=("$@")
if [ ${#cmds[@]} -eq 0 ]; then
  cmds=('./anonx stress && ./anonx test' './anonx bench --quick && ./anonx report')
fi
for c in "${cmds[@]}"; do
  [ -n "${c//[[:space:]]/}" ] || die 2 "an empty command"
done

if [ -n "$(git -C "$top" status --porcelain --untracked-files=no)" ]; then
  echo "fresh-debian: warning: $top has uncommitted changes; the runs use HEAD ($short) only" >&2
fi

# True if anything is mounted at or below $1.
mounted_below() { awk -v d="$1" '$2 == d || index($2, d "/") == 1 { f = 1 } END { exit !f }' /proc/mounts; }

# True if $1 holds a finished base system (debootstrap ran to the end: git,
# the last package it was asked for, is installed and configured).
base_ok() {
  # shellcheck disable=SC2016 # ${Status} is dpkg-query's field, not the shell's
  [ -x "$1/bin/bash" ] && [ -x "$1/usr/bin/git" ] &&
    [ "$(chroot "$1" dpkg-query -W -f='${Status}' git 2>/dev/null)" = "install ok installed" ]
}

make_base() {
  if [ -e "$base" ]; then
    mounted_below "$base" && die 3 "$base is an unfinished base with something mounted in it; unmount and remove it"
    echo "fresh-debian: removing the unfinished base $base" >&2
    rm -rf --one-file-system "$base"
  fi
  if ! command -v debootstrap >/dev/null; then
    echo "fresh-debian: installing debootstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
      die 3 "cannot install debootstrap"
  fi
  # The mirror this machine's apt uses (deb822 sources first, then sources.list).
  local mirror
  mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}' || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || die 3 "no Debian mirror found in /etc/apt/sources.list{,.d/*.sources}"
  echo "fresh-debian: creating $base (debootstrap minbase from $mirror, log in $base.log)" >&2
  if ! debootstrap --variant=minbase --include=ca-certificates,git bookworm "$base" "$mirror" \
    >"$base.log" 2>&1; then
    die 3 "debootstrap failed, see $base.log"
  fi
  base_ok "$base" || die 3 "debootstrap finished but $base lacks git, see $base.log"
}

# One base at a time, even with several of these scripts running.
exec 9>"$base.lock"
flock 9
base_ok "$base" || make_base
flock -u 9

mkdir -p "$logs"
run=''
cleanup() {
  [ -n "$run" ] && [ -d "$run" ] || return 0
  umount "$run/root/proc" 2>/dev/null || true
  if mounted_below "$run"; then
    echo "fresh-debian: something is still mounted under $run; left in place" >&2
  else
    rm -rf --one-file-system "$run"
  fi
  run=''
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rc=0
n=0
for c in "${cmds[@]}"; do
  n=$((n + 1))
  log="$logs/fresh-debian-$short-$n.log"
  run=$(mktemp -d /tmp/fresh-run.XXXXXX)
  cp -a "$base" "$run/root"
  cp /etc/resolv.conf "$run/root/etc/resolv.conf" 2>/dev/null || true
  git clone -q --no-checkout "$top" "$run/root/project"
  git -C "$run/root/project" checkout -q --detach "$sha"
  mount --bind /proc "$run/root/proc"
  echo "fresh-debian: [$n/${#cmds[@]}] bare Debian 12 at $short: $c (log $log)" >&2
  set +e
  chroot "$run/root" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -lc "cd /project && $c" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  echo "fresh-debian: [$n/${#cmds[@]}] exit $status: $c" >&2
  [ "$status" -eq 0 ] || rc=1
  cleanup
done
if [ $rc -eq 0 ]; then
  echo "fresh-debian: every command exited 0 at $short" >&2
else
  echo "fresh-debian: FAILED at $short (logs in $logs/fresh-debian-$short-*.log)" >&2
fi
exit $rc
