// SPDX-License-Identifier: GPL-2.0-only
// cli.h: what the command lines of anonx-stress and anonx-check share: the
// usage error (exit 2, a one-line message naming the bad value), integer and
// list parsing, the --protocol / --platform / --mutant values, and reports
// written to a temporary file, then renamed (nothing half-written).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol.h"

namespace anonx::cli {

struct usage_error {
  std::string msg;
};

[[noreturn]] inline void bad(const std::string &msg) { throw usage_error{msg}; }

inline uint64_t parse_u64(const std::string &opt, const std::string &v, bool positive) {
  char *end = nullptr;
  errno = 0;
  if (v.empty() || v[0] == '-')
    bad(opt + ": '" + v + "' is not " + (positive ? "a positive " : "an ") + "integer");
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (errno || *end || (positive && x == 0))
    bad(opt + ": '" + v + "' is not " + (positive ? "a positive " : "an ") + "integer");
  return x;
}

// A non-negative integer of at most max (a count that must fit an unsigned).
inline unsigned parse_at_most(const std::string &opt, const std::string &v, uint64_t max) {
  const uint64_t n = parse_u64(opt, v, false);
  if (n > max) bad(opt + ": '" + std::to_string(n) + "' is above " + std::to_string(max));
  return static_cast<unsigned>(n);
}

inline std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, sep)) out.push_back(x);
  return out;
}

// --protocol v5.18|...|v6.2
inline generation parse_protocol(const std::string &v) {
  generation g;
  if (!parse_generation(v, &g))
    bad("--protocol: unknown protocol '" + v + "' (v5.18, v5.19, v6.0, v6.1, v6.2)");
  return g;
}

// --platform x86|rcu|x86,rcu|all
inline std::vector<platform> parse_platforms(const std::string &v) {
  std::vector<platform> out;
  for (auto &x : split(v, ',')) {
    if (x == "all") {
      out.assign(std::begin(kPlatforms), std::end(kPlatforms));
      continue;
    }
    platform pl;
    if (!parse_platform(x, &pl)) bad("--platform: unknown platform '" + x + "' (x86, rcu)");
    if (std::find(out.begin(), out.end(), pl) == out.end()) out.push_back(pl);
  }
  if (out.empty()) bad("--platform: '" + v + "' names no platform");
  return out;
}

// --mutant NAME|none: nullptr for none.
inline const mutant_info *parse_mutant(const std::string &v) {
  if (v == "none") return nullptr;
  const mutant_info *m = find_mutant(v);
  if (!m) bad("--mutant: unknown mutant '" + v + "' (see --list)");
  return m;
}

// A report's temporary file, renamed onto the report once written.
inline std::string temp_path(const std::string &path) {
  return path + ".tmp." + std::to_string(getpid());
}

// Reports are written to a temporary file, then renamed: nothing half-written.
inline void write_file(const std::string &path, const std::string &text) {
  const std::string tmp = temp_path(path);
  {
    std::ofstream f(tmp);
    if (!f) throw std::runtime_error("cannot write " + tmp);
    f << text << "\n";
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename to " + path);
}

}  // namespace anonx::cli
