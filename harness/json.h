// SPDX-License-Identifier: GPL-2.0-only
// json.h: the reports' JSON, nlohmann::ordered_json (keys stay in the order
// they are written), and the one number rule the reports keep: a float is
// written with six significant digits (printf's %.6g), so reports read the
// same as they always have (tools/, tests/, results/ read them).
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

namespace anonx::harness {

using json = nlohmann::ordered_json;

// d as %.6g would write it: an integer where that has no point or exponent
// ("60", not "60.0"), null where d is not finite.
inline json six_digits(double d) {
  if (!std::isfinite(d)) return nullptr;
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", d);
  if (!std::strpbrk(b, ".e")) return std::strtoll(b, nullptr, 10);
  return std::strtod(b, nullptr);
}

inline void round_floats(json &j) {
  if (j.is_number_float())
    j = six_digits(j.get<double>());
  else if (j.is_structured())
    for (auto &x : j) round_floats(x);
}

// A report's text: one compact line; bytes that are not UTF-8 (an argv, a
// host name) become U+FFFD rather than an exception.
inline std::string report_text(json j) {
  round_floats(j);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace anonx::harness
