// SPDX-License-Identifier: GPL-2.0-only
// search.cc: the searches (random, context-bound, full) as Relacy's parameters, and
// Relacy's history of a failing schedule made readable.
#include "frontend.h"

namespace anonx::check {

// ---- searches --------------------------------------------------------------------

std::vector<search> searches_of(const options &o) {
  std::vector<search> v;
  const bool any = o.iterations || o.context_bound >= 0 || o.full;
  if (o.iterations || !any) v.push_back({"random", o.iterations ? o.iterations : 100000, 0});
  if (o.context_bound >= 0 || !any)
    v.push_back(
        {"context-bound", 0, static_cast<unsigned>(o.context_bound >= 0 ? o.context_bound : 2)});
  if (o.full) v.push_back({"full", 0, 0});
  return v;
}

rl::test_params params_of(const search &s, uint64_t seed) {
  rl::test_params p;
  p.execution_depth_limit = 20000;
  if (s.kind == "random") {
    p.search_type = rl::sched_random;
    // The random scheduler seeds each schedule with its iteration number:
    // --seed N starts at N << 32.
    const uint64_t start = seed << 32;
    p.iteration_count = start + s.iterations;
    if (start) p.initial_state = std::to_string(start) + " ";
  } else if (s.kind == "context-bound") {
    p.search_type = rl::sched_bound;
    p.context_bound = s.bound;
  } else {
    p.search_type = rl::sched_full;
  }
  return p;
}

// ---- the trace -------------------------------------------------------------------

// "in long int anonx::gup_pte_range(Env&, ...), core/gup.h(88)" ->
// "gup_pte_range  core/gup.h:88".
std::string short_site(std::string in_part) {
  // source_location names a template's arguments: " [with P = ...]"
  for (size_t k; (k = in_part.find(" [with ")) != std::string::npos;) {
    size_t e = k + 1;
    for (int depth = 0; e < in_part.size(); e++) {
      if (in_part[e] == '[') depth++;
      if (in_part[e] == ']' && --depth == 0) break;
    }
    in_part.erase(k, e - k + 1);
  }
  std::string fn = in_part, where;
  const auto comma = in_part.rfind("), ");
  if (comma != std::string::npos) {
    fn = in_part.substr(0, comma + 1);
    where = in_part.substr(comma + 3);
  }
  const auto paren = fn.find('(');
  std::string name = fn.substr(0, paren);
  const auto sp = name.find_last_of(" :");
  if (sp != std::string::npos) name = name.substr(sp + 1);
  const auto k = where.rfind("core/");
  if (k != std::string::npos) where = where.substr(k);
  const auto lp = where.rfind('(');
  if (lp != std::string::npos && where.back() == ')')
    where = where.substr(0, lp) + ":" + where.substr(lp + 1, where.size() - lp - 2);
  return name + "  " + where;
}

// The failure Relacy names on the history's first line ("USER ASSERT
// FAILED (I1: ...)").
std::string verdict_of(const std::string &hist, const std::string &fallback) {
  std::istringstream in(hist);
  std::string line;
  while (std::getline(in, line))
    if (line.find("FAILED") != std::string::npos || line.find("DETECTED") != std::string::npos ||
        line.find("ACCESS") != std::string::npos || line.find("LIVELOCK") != std::string::npos)
      return line;
  return fallback;
}

// Relacy's history of the failing schedule, with thread numbers as actors
// (C: the clearer, thread 0; G: GUP-fast, thread 1), the raced words by name,
// each event's core/ function and line, and the labelled steps (A1..A4,
// B1..B5) as headings. Relacy's own bookkeeping (memory, set-up markers) and
// its per-thread repetition of the history are left out.
std::string readable_trace(const std::string &hist) {
  std::istringstream in(hist);
  std::ostringstream out;
  std::string line;
  bool in_hist = false;
  // Relacy does not clear its history between the iterations of a replay:
  // keep the failing (last) one.
  std::string tail = hist;
  if (const auto k = hist.rfind("ITERATION END"); k != std::string::npos) {
    const auto head_end = hist.find('\n', hist.find("execution history"));
    const auto from = hist.find('\n', k);
    if (head_end != std::string::npos && from != std::string::npos && from > head_end)
      tail = hist.substr(0, head_end + 1) + hist.substr(from + 1);
  }
  in.str(tail);
  while (std::getline(in, line)) {
    if (line.rfind("execution history", 0) == 0) {
      in_hist = true;
      out << "  " << line << " (C = thread 0, the clearer; G = thread 1, GUP-fast):\n";
      continue;
    }
    if (!in_hist) continue;
    if (line.empty() || line.rfind("thread ", 0) == 0) break;  // per-thread repeats
    if (line.find("memory deallocation") != std::string::npos ||
        line.find("memory allocation") != std::string::npos ||
        line.find("fiber_proc_impl") != std::string::npos)
      continue;
    std::string l = line;
    // "[N] T: " -> "C " / "G "
    const auto rb = l.find("] ");
    if (rb != std::string::npos && rb + 3 < l.size()) {
      const char t = l[rb + 2];
      l = std::string(t == '0' ? "C" : t == '1' ? "G" : "?") + " " + l.substr(rb + 4);
    }
    for (const auto &w : g_word_names) {
      if (!w.addr) break;
      char pat[48];
      std::snprintf(pat, sizeof pat, "<%p>", w.addr);
      const std::string p = pat;
      for (size_t k; (k = l.find(p)) != std::string::npos;) l.replace(k, p.size(), w.name);
    }
    if (const auto k = l.find("==== "); k != std::string::npos) {
      const auto e = l.find(", in", k);
      out << "  --- " << l.substr(k + 5, e == std::string::npos ? std::string::npos : e - k - 5)
          << "\n";
      continue;
    }
    if (const auto k = l.find(", in "); k != std::string::npos)
      l = l.substr(0, k) + "    [" + short_site(l.substr(k + 5)) + "]";
    out << "    " << l << "\n";
  }
  return out.str();
}

}  // namespace anonx::check
