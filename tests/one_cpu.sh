#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# one_cpu.sh COMMAND...: runs COMMAND pinned to one CPU (the first this
# process may use), so that its threads time-share a core: the case where
# racing windows never overlap by parallelism and only the harness's
# preemption points and yielding waits can make them meet.
cpu=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))') || exit 125
exec taskset -c "$cpu" "$@"
