// SPDX-License-Identifier: GPL-2.0-only
// profile.h: the contention profile of a run (core/lockstat.h) as the
// reports carry it, and the table a person reads.
//
// Schema (docs/profile.md): an object per cell ("profile" of each run) and
// one for the whole report ("profile" at the top), each
//   {"schema": 1, "clock": "tsc"|"steady_clock",
//    "thread_s": seconds of all threads, "contended_wait_ns", "contended_wait_share",
//    "locks": {CLASS: {"acquisitions", "contentions", "wait": HIST, "hold": HIST,
//                      "sites": [{"fn", "contentions", "wait_ns"}], "other_sites"}},
//    "words": {KIND: {"rmw", "retries", "failures", "changed"}},
//    "gup_fast_fallbacks": {REASON: count},
//    "flushes": {"count", "waited", "wait": HIST},
//    "threads": {"step_ns", "rendezvous_wait": HIST}}
// HIST = {"n", "total_ns", "min_ns", "max_ns", "mean_ns", "log2_ns": [40 counts]},
// bucket b holding waits of [2^b, 2^(b+1)) ns. Shards merge by adding every
// count and histogram bucket, taking min of min and max of max
// (tools/merge_reports.py).
#pragma once

#include <string>

#include "json.h"
#include "lockstat.h"

namespace anonx::harness {

inline constexpr int kProfileSchema = 1;

// thread_s: the threads' seconds (elapsed times threads), the share's base.
json profile_json(const lockstat &p, double thread_s);
// The lock classes, word kinds and fallback reasons a profile names
// (anonx-stress --list --json: "profile").
json profile_names_json();
// "" when j is a profile this build reads; else what is wrong with it.
std::string profile_problem(const json &j);
// A perf-lock-contention-style table: the top contended lock classes (with
// their waiting call sites), the hottest words, the flush waits and
// GUP-fast's fallbacks; `title` heads it.
std::string profile_table(const json &profile, const std::string &title, unsigned top = 8);

}  // namespace anonx::harness
