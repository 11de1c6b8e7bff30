// SPDX-License-Identifier: GPL-2.0-only
// profile.cc: a contention profile to JSON, and the table (profile.h).
#include "profile.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <vector>

namespace anonx::harness {
namespace {

json hist_json(const time_hist &h) {
  json j = {{"n", h.n}};
  if (!h.n) return j;
  j["total_ns"] = h.total_ns;
  j["min_ns"] = h.min_ns;
  j["max_ns"] = h.max_ns;
  j["mean_ns"] = static_cast<double>(h.total_ns) / static_cast<double>(h.n);
  unsigned last = 0;
  for (unsigned b = 0; b < kLogBuckets; b++)
    if (h.bucket[b]) last = b;
  j["log2_ns"] = std::vector<uint64_t>(h.bucket, h.bucket + last + 1);  // trailing zeros dropped
  return j;
}

// "1.23 ms" for a nanosecond count.
std::string fmt_ns(double ns) {
  char b[32];
  if (ns >= 1e9)
    std::snprintf(b, sizeof b, "%.2f s", ns / 1e9);
  else if (ns >= 1e6)
    std::snprintf(b, sizeof b, "%.2f ms", ns / 1e6);
  else if (ns >= 1e3)
    std::snprintf(b, sizeof b, "%.2f us", ns / 1e3);
  else
    std::snprintf(b, sizeof b, "%.0f ns", ns);
  return b;
}

double num(const json &j, const char *k) { return j.contains(k) ? j[k].get<double>() : 0.0; }

}  // namespace

json profile_json(const lockstat &p, double thread_s) {
  json j = {
    {"schema", kProfileSchema},
#if defined(__x86_64__)
    {"clock", "tsc"},
#else
    {"clock", "steady_clock"},
#endif
    {"thread_s", thread_s}
  };
  const uint64_t wait = p.contended_wait_ns();
  j["contended_wait_ns"] = wait;
  j["contended_wait_share"] = thread_s > 0 ? static_cast<double>(wait) / (thread_s * 1e9) : 0.0;
  json &locks = j["locks"] = json::object();
  for (unsigned c = 0; c < kNrLockClasses; c++) {
    const lock_class_stats &s = p.locks[c];
    json l = {{"acquisitions", s.acquisitions}, {"contentions", s.contentions},
              {"wait", hist_json(s.wait)},      {"hold", hist_json(s.hold)},
              {"sites", json::array()},         {"other_sites", s.other_site_contentions}};
    // One row per function: its instantiations (one per environment) joined.
    struct site {
      std::string fn;
      uint64_t contentions, wait_ns;
    };
    std::vector<site> sites;
    for (const auto &x : s.sites) {
      if (!x.fn) continue;
      const std::string fn(site_name(x.fn));
      auto it = std::find_if(sites.begin(), sites.end(), [&](const site &y) { return y.fn == fn; });
      if (it == sites.end())
        sites.push_back({fn, x.contentions, x.wait_ns});
      else
        it->contentions += x.contentions, it->wait_ns += x.wait_ns;
    }
    std::sort(sites.begin(), sites.end(),
              [](const site &a, const site &b) { return a.wait_ns > b.wait_ns; });
    for (const auto &x : sites)
      l["sites"].push_back({{"fn", x.fn}, {"contentions", x.contentions}, {"wait_ns", x.wait_ns}});
    locks[kLockClasses[c].id] = std::move(l);
  }
  json &words = j["words"] = json::object();
  for (unsigned w = 0; w < kNrWordKinds; w++) {
    const word_stats &s = p.words[w];
    words[kWordKindNames[w]] = {
        {"rmw", s.rmw}, {"retries", s.retries}, {"failures", s.failures}, {"changed", s.changed}};
  }
  json &fb = j["gup_fast_fallbacks"] = json::object();
  for (unsigned f = 0; f < kNrGupFallbacks; f++) fb[kGupFallbackNames[f]] = p.gup_fallbacks[f];
  j["flushes"] = {
      {"count", p.flushes}, {"waited", p.flushes_waited}, {"wait", hist_json(p.flush_wait)}};
  j["threads"] = {{"step_ns", p.step_ns}, {"rendezvous_wait", hist_json(p.rendezvous_wait)}};
  return j;
}

json profile_names_json() {
  json j;
  for (const auto &c : kLockClasses)
    j["lock_classes"].push_back(
        {{"name", c.id}, {"kernel_name", c.kernel_name}, {"description", c.what}});
  for (const char *w : kWordKindNames) j["word_kinds"].push_back(w);
  for (const char *f : kGupFallbackNames) j["gup_fast_fallbacks"].push_back(f);
  j["schema"] = kProfileSchema;
  return j;
}

std::string profile_problem(const json &j) {
  if (!j.is_object() || !j.contains("schema")) return "no contention profile (no \"schema\")";
  if (!j["schema"].is_number_integer() || j["schema"].get<int>() != kProfileSchema)
    return "profile schema " + j["schema"].dump() + ", this build reads schema " +
           std::to_string(kProfileSchema);
  for (const char *k : {"locks", "words", "gup_fast_fallbacks", "flushes"})
    if (!j.contains(k) || !j[k].is_object()) return std::string("profile without \"") + k + "\"";
  return "";
}

std::string profile_table(const json &p, const std::string &title, unsigned top) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%s: contended wait %s, %.2f%% of %.3g thread-seconds\n",
                title.c_str(), fmt_ns(num(p, "contended_wait_ns")).c_str(),
                100 * num(p, "contended_wait_share"), num(p, "thread_s"));
  out += line;
  struct row {
    std::string name;
    const json *l;
  };
  std::vector<row> rows;
  for (auto &[name, l] : p["locks"].items())
    if (num(l, "acquisitions") > 0) rows.push_back({name, &l});
  std::sort(rows.begin(), rows.end(), [](const row &a, const row &b) {
    return num((*a.l)["wait"], "total_ns") > num((*b.l)["wait"], "total_ns");
  });
  std::snprintf(line, sizeof line, "  %11s %12s %10s %10s %10s %10s  %s\n", "contended",
                "acquisitions", "total wait", "max wait", "avg wait", "max hold", "lock class");
  out += line;
  for (size_t i = 0; i < rows.size() && i < top; i++) {
    const json &l = *rows[i].l;
    const json &w = l["wait"];
    std::snprintf(line, sizeof line, "  %11.0f %12.0f %10s %10s %10s %10s  %s\n",
                  num(l, "contentions"), num(l, "acquisitions"), fmt_ns(num(w, "total_ns")).c_str(),
                  fmt_ns(num(w, "max_ns")).c_str(), fmt_ns(num(w, "mean_ns")).c_str(),
                  fmt_ns(num(l["hold"], "max_ns")).c_str(), rows[i].name.c_str());
    out += line;
    for (const auto &s : l["sites"]) {
      std::snprintf(line, sizeof line, "  %11.0f %12s %10s %10s %10s %10s    waiter: %s\n",
                    num(s, "contentions"), "", fmt_ns(num(s, "wait_ns")).c_str(), "", "", "",
                    s["fn"].get<std::string>().c_str());
      out += line;
    }
  }
  std::snprintf(line, sizeof line, "  %12s %10s %10s %10s  %s\n", "rmw", "retries", "failures",
                "changed", "word");
  out += line;
  for (auto &[name, w] : p["words"].items()) {
    if (num(w, "rmw") + num(w, "changed") == 0) continue;
    std::snprintf(line, sizeof line, "  %12.0f %10.0f %10.0f %10.0f  %s\n", num(w, "rmw"),
                  num(w, "retries"), num(w, "failures"), num(w, "changed"), name.c_str());
    out += line;
  }
  const json &f = p["flushes"];
  std::snprintf(line, sizeof line,
                "  flushes %.0f, %.0f waited for IRQ-off sections: total %s, max %s\n",
                num(f, "count"), num(f, "waited"), fmt_ns(num(f["wait"], "total_ns")).c_str(),
                fmt_ns(num(f["wait"], "max_ns")).c_str());
  out += line;
  std::string fb;
  for (auto &[name, n] : p["gup_fast_fallbacks"].items())
    if (n.get<double>() > 0) fb += " " + name + "=" + std::to_string(n.get<uint64_t>());
  out += "  GUP-fast fallbacks:" + (fb.empty() ? std::string(" none") : fb) + "\n";
  if (p.contains("threads")) {  // timed in one iteration in kHoldSampleEvery (docs/profile.md)
    const json &t = p["threads"];
    std::snprintf(line, sizeof line,
                  "  threads: ~%s in the scenario's steps, ~%s at the lockstep rendezvous, of "
                  "%.3g thread-seconds (one iteration in %u timed)\n",
                  fmt_ns(num(t, "step_ns")).c_str(),
                  fmt_ns(kHoldSampleEvery * num(t["rendezvous_wait"], "total_ns")).c_str(),
                  num(p, "thread_s"), static_cast<unsigned>(kHoldSampleEvery));
    out += line;
  }
  return out;
}

}  // namespace anonx::harness
