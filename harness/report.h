// SPDX-License-Identifier: GPL-2.0-only
// report.h: the report writer every front end uses: a report is JSON
// (json.h: keys in the order written, six significant digits), written to a
// temporary file beside its path and renamed onto it, so a reader (a
// dashboard, a merge, a run killed halfway) never sees half a report; and
// the facts of the run every report's context carries.
#pragma once

#include <unistd.h>

#include <ctime>
#include <string>
#include <vector>

#include "cli.h"
#include "json.h"

namespace anonx::harness {

inline void write_report(const std::string &path, const json &report) {
  cli::write_file(path, report_text(report));
}

// The UTC time, ISO 8601.
inline std::string now_iso() {
  char buf[32];
  std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

inline std::string host_name() {
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  return host;
}

// The command line as one string.
inline std::string joined(const std::vector<std::string> &argv) {
  std::string out;
  for (auto &a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

}  // namespace anonx::harness
