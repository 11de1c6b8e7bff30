// SPDX-License-Identifier: GPL-2.0-only
// step_scheduler.h: scripted interleavings of the model's labelled steps.
//
// Two or three actors (std::threads), each with its own env (own CPU number,
// own stats) whose hooks call step_scheduler::at(actor, label) before every
// labelled step (env.at("A1"), ..., or a test's own labels such as "GO").
// A script is a list of entries, consumed strictly in order.
//
// Rules
//  * Sync points. A label L is a synchronisation point for actor X when an
//    entry at or after the script's head names (X, L); every other label is
//    free for X: X passes it without stopping (so labels never mentioned for
//    X are always free, and once the script is exhausted everyone runs
//    freely).
//  * run(X, L): when X reaches the sync point L and the head is (X, L), X is
//    granted the step and proceeds. The step lasts until X reaches its next
//    sync point or its body returns (finish); only then does the head move on.
//    So an entry stands for "everything X does from L up to its next scripted
//    label", and the next entry can rely on it having happened.
//    async: the head moves on as soon as X is granted (X's step then overlaps
//    the following entries; used when the correct protocol is expected to
//    block inside that step, e.g. a TLB-flush IPI waiting for a GUP-fast
//    IRQ-off section).
//  * If X reaches a sync point while the head names another actor, X blocks.
//    If the head names X at another label: an optional entry is skipped (X
//    went another way, e.g. the correct protocol backed off before (A3)); a
//    required one is a script failure ("X reached L, expected M").
//  * arrive(X, L): consumed, without granting anything, once X is blocked at
//    L (it needs a later run(X, L)). Orders "X has done everything up to L"
//    before the next entries. With max_wait it is consumed after max_wait
//    even if X never arrives (recorded as not met: the correct protocol is
//    expected to hold X elsewhere).
//  * until(pred, max_wait): consumed when pred() holds (met) or after
//    max_wait (not met). pred is polled under the scheduler's lock.
//    A max_wait is taken as given: as a window the correct protocol must
//    hold X back for, a slow machine cannot fail it; where the run expects
//    the entry met (a mutant's), the test passes a scaled bound
//    (tests/time_scale.h) that the event itself ends.
//  * An optional entry naming an actor that has finished is skipped; a
//    required one is a failure.
//  * Timeout: an actor blocked for more than `timeout` (default 5 s, times
//    ANONX_TIME_SCALE: tests/time_scale.h) fails the run with the entry it
//    is stuck at and every actor's state. After any failure all actors run
//    freely, so a test never hangs on a script.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "anonx.h"
#include "time_scale.h"

namespace anonx::test {

using namespace std::chrono_literals;

struct step {
  enum kind_t { run_k, arrive_k, until_k } kind = run_k;
  int actor = -1;
  std::string label;
  bool optional = false;
  bool async = false;
  std::function<bool()> pred;  // until
  std::chrono::milliseconds max_wait{0};
  std::string what;  // until: description
};

inline step run(int actor, std::string label) {
  step s;
  s.actor = actor;
  s.label = std::move(label);
  return s;
}
// An entry the correct protocol may not reach.
inline step opt(int actor, std::string label) {
  step s = run(actor, std::move(label));
  s.optional = true;
  return s;
}
inline step async(int actor, std::string label) {
  step s = run(actor, std::move(label));
  s.async = true;
  return s;
}
inline step arrive(int actor, std::string label, bool optional = false,
                   std::chrono::milliseconds max_wait = 0ms) {
  step s = run(actor, std::move(label));
  s.kind = step::arrive_k;
  s.optional = optional;
  s.max_wait = max_wait;
  return s;
}
inline step until(std::string what, std::function<bool()> pred,
                  std::chrono::milliseconds max_wait) {
  step s;
  s.kind = step::until_k;
  s.what = std::move(what);
  s.pred = std::move(pred);
  s.max_wait = max_wait;
  return s;
}

class step_scheduler {
 public:
  using clock = std::chrono::steady_clock;

  step_scheduler(std::vector<std::string> actor_names, std::vector<step> script,
                 std::chrono::milliseconds timeout = 5000ms)
      : names_(std::move(actor_names)),
        script_(std::move(script)),
        timeout_(::anonx::testing::scaled(timeout)),
        state_(names_.size(), st::running),
        where_(names_.size()),
        met_(script_.size(), -1) {
    for (size_t i = 0; i < script_.size(); i++) {
      const step &s = script_[i];
      if (s.kind == step::until_k) continue;
      if (s.actor < 0 || static_cast<size_t>(s.actor) >= names_.size())
        fail_locked("script entry #" + std::to_string(i) + " names an unknown actor");
      if (s.kind == step::arrive_k && !mentioned_run(s.actor, s.label, i + 1))
        fail_locked("script entry #" + std::to_string(i) + " " + entry_name(i) +
                    ": arrive needs a later run entry for the same label");
    }
  }

  // Called by an actor's hooks before the labelled step.
  void at(int actor, const char *label) {
    std::unique_lock<std::mutex> lk(mu_);
    // Complete this actor's step in progress if `label` is its next sync point.
    if (granted_ && script_[pos_].actor == actor) {
      if (!mentioned(actor, label, pos_ + 1)) return;  // a free label inside the step
      granted_ = false;
      ++pos_;
      cv_.notify_all();
    }
    if (failed_ || !mentioned(actor, label, pos_)) return;
    state_[actor] = st::waiting;
    where_[actor] = label;
    cv_.notify_all();
    auto deadline = clock::now() + timeout_;
    for (;;) {
      advance_locked();
      if (failed_ || pos_ >= script_.size() || !mentioned(actor, label, pos_)) break;
      const step &s = script_[pos_];
      const bool mine =
          !granted_ && s.actor == actor && (s.kind == step::run_k || s.kind == step::arrive_k);
      if (mine && s.kind == step::run_k && s.label == label) {
        log_locked("grant " + entry_name(pos_));
        if (s.async)
          ++pos_;
        else
          granted_ = true;
        cv_.notify_all();
        break;
      }
      if (mine && s.label != label) {  // this actor went another way
        if (s.optional) {
          log_locked("skip " + entry_name(pos_) + " (" + names_[actor] + " at " + label + ")");
          ++pos_;
          cv_.notify_all();
          continue;
        }
        fail_locked(names_[actor] + " reached " + label + " but the script expects " +
                    entry_name(pos_) + " (entry #" + std::to_string(pos_) + ")");
        break;
      }
      // Poll while a timed entry is at the head.
      const bool timed = !granted_ && (s.kind == step::until_k || s.max_wait.count() > 0);
      if (timed) {
        cv_.wait_for(lk, 1ms);
      } else if (cv_.wait_until(lk, deadline) == std::cv_status::timeout) {
        fail_locked("timeout after " + std::to_string(timeout_.count()) + " ms: " + names_[actor] +
                    " blocked at " + label + "; " + status_locked());
        break;
      }
      if (clock::now() > deadline && !failed_) {
        fail_locked("timeout after " + std::to_string(timeout_.count()) + " ms: " + names_[actor] +
                    " blocked at " + label + "; " + status_locked());
        break;
      }
    }
    state_[actor] = st::running;
  }

  // The actor's body has returned.
  void finish(int actor) {
    std::lock_guard<std::mutex> lk(mu_);
    if (granted_ && script_[pos_].actor == actor) {
      granted_ = false;
      ++pos_;
    }
    state_[actor] = st::finished;
    log_locked(names_[actor] + " finished");
    advance_locked();
    cv_.notify_all();
  }

  // After every actor finished: "" if the script ran to its end, else why not.
  std::string verdict() {
    std::lock_guard<std::mutex> lk(mu_);
    advance_locked();
    if (failed_) return failure_;
    if (pos_ < script_.size())
      return "script not exhausted: stuck at entry #" + std::to_string(pos_) + " " +
             entry_name(pos_);
    return {};
  }
  // For an until or a timed arrive entry: 1 met, 0 timed out, -1 not reached.
  int met(size_t entry) {
    std::lock_guard<std::mutex> lk(mu_);
    return met_[entry];
  }
  std::string log() {
    std::lock_guard<std::mutex> lk(mu_);
    std::string s;
    for (auto &e : log_) s += "  " + e + "\n";
    return s;
  }

 private:
  enum class st { running, waiting, finished };

  bool mentioned(int actor, const std::string &label, size_t from) const {
    for (size_t i = from; i < script_.size(); i++)
      if (script_[i].kind != step::until_k && script_[i].actor == actor &&
          script_[i].label == label)
        return true;
    return false;
  }
  bool mentioned_run(int actor, const std::string &label, size_t from) const {
    for (size_t i = from; i < script_.size(); i++)
      if (script_[i].kind == step::run_k && script_[i].actor == actor && script_[i].label == label)
        return true;
    return false;
  }
  std::string entry_name(size_t i) const {
    if (i >= script_.size()) return "<end>";
    const step &s = script_[i];
    if (s.kind == step::until_k) return "until(" + s.what + ")";
    std::string n = names_[s.actor] + ":" + s.label;
    if (s.kind == step::arrive_k) n = "arrive(" + n + ")";
    if (s.optional) n += "?";
    if (s.async) n += "&";
    return n;
  }
  std::string status_locked() const {
    std::string s = "head #" + std::to_string(pos_) + " " + entry_name(pos_) +
                    (granted_ ? " (in progress)" : "") + "; actors:";
    for (size_t a = 0; a < names_.size(); a++) {
      s += " " + names_[a] + "=";
      switch (state_[a]) {
        case st::running:
          s += "running";
          break;
        case st::waiting:
          s += "waiting@" + where_[a];
          break;
        case st::finished:
          s += "finished";
          break;
      }
    }
    return s;
  }
  void log_locked(std::string e) { log_.push_back(std::move(e)); }
  void fail_locked(std::string why) {
    if (failed_) return;
    failed_ = true;
    failure_ = "step_scheduler: " + why;
    log_locked("FAIL " + why);
    cv_.notify_all();
  }

  // Consume the entries at the head that need no grant.
  void advance_locked() {
    while (!failed_ && !granted_ && pos_ < script_.size()) {
      const step &s = script_[pos_];
      if (s.kind == step::until_k || (s.kind == step::arrive_k && s.max_wait.count() > 0)) {
        if (head_since_ != pos_) {
          head_since_ = pos_;
          head_t0_ = clock::now();
        }
      }
      if (s.kind == step::until_k) {
        if (s.pred()) {
          met_[pos_] = 1;
          log_locked(entry_name(pos_) + " met");
        } else if (clock::now() - head_t0_ >= s.max_wait) {
          met_[pos_] = 0;
          log_locked(entry_name(pos_) + " timed out");
        } else {
          return;
        }
        ++pos_;
        continue;
      }
      if (state_[s.actor] == st::finished) {
        if (!s.optional && !(s.kind == step::arrive_k && s.max_wait.count() > 0)) {
          fail_locked(names_[s.actor] + " finished before reaching " + entry_name(pos_) +
                      " (entry #" + std::to_string(pos_) + ")");
          return;
        }
        log_locked("skip " + entry_name(pos_) + " (finished)");
        if (s.kind == step::arrive_k) met_[pos_] = 0;
        ++pos_;
        continue;
      }
      if (s.kind == step::arrive_k) {
        if (state_[s.actor] == st::waiting && where_[s.actor] == s.label) {
          met_[pos_] = 1;
          log_locked(entry_name(pos_) + " met");
          ++pos_;
          continue;
        }
        if (s.max_wait.count() > 0 && clock::now() - head_t0_ >= s.max_wait) {
          met_[pos_] = 0;
          log_locked(entry_name(pos_) + " timed out");
          ++pos_;
          continue;
        }
      }
      return;
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> names_;
  std::vector<step> script_;
  std::chrono::milliseconds timeout_;
  std::vector<st> state_;
  std::vector<std::string> where_;
  std::vector<int> met_;
  std::vector<std::string> log_;
  size_t pos_ = 0;
  bool granted_ = false;  // script_[pos_] is granted and in progress
  size_t head_since_ = ~size_t{0};
  clock::time_point head_t0_{};
  bool failed_ = false;
  std::string failure_;
};

// An actor's hooks: forwards every label to the scheduler.
class actor_hooks final : public step_hooks {
 public:
  actor_hooks(step_scheduler &s, int actor) : s_(s), actor_(actor) {}
  void at(const char *label) override { s_.at(actor_, label); }

 private:
  step_scheduler &s_;
  int actor_;
};

// Runs one body per actor on its own thread (actor i is bodies[i]); each
// thread reports violations to `sink`. Returns when all have finished.
inline void run_actors(step_scheduler &s, violation_sink &sink,
                       std::vector<std::function<void()>> bodies) {
  std::vector<std::thread> threads;
  for (size_t i = 0; i < bodies.size(); i++)
    threads.emplace_back([&s, &sink, &bodies, i] {
      this_cpu_report().sink = &sink;
      this_cpu_report().cpu = static_cast<int>(i);
      bodies[i]();
      s.finish(static_cast<int>(i));
      this_cpu_report().sink = nullptr;
    });
  for (auto &t : threads) t.join();
}

}  // namespace anonx::test
