// SPDX-License-Identifier: GPL-2.0-only
// time_scale.h: the wall-clock bounds of the tests, scaled for the build
// they run in. A bound a test can fail on (a watchdog, a scheduler timeout,
// how long a step the run expects may take to happen) is multiplied by
// ANONX_TIME_SCALE, which tests/meson.build sets for every test from the
// build's sanitizer: 10 under ThreadSanitizer, 4 under AddressSanitizer
// (the tsan and asan test setups' timeout multipliers), 1 without. Unset,
// unreadable or below 1, it reads as 1.
//
// A window that only a broken protocol would use (how long the correct
// protocol must hold a step back) is not scaled: a slower machine can only
// make it hold longer, never make the test fail.
#pragma once

#include <chrono>
#include <cstdlib>

namespace anonx::testing {

inline double time_scale() {
  static const double scale = [] {
    const char *e = std::getenv("ANONX_TIME_SCALE");
    const double v = e ? std::strtod(e, nullptr) : 1.0;
    return v >= 1.0 ? v : 1.0;  // also NaN
  }();
  return scale;
}

// d times the scale, in milliseconds.
template <class Rep, class Period>
std::chrono::milliseconds scaled(std::chrono::duration<Rep, Period> d) {
  const double ms = std::chrono::duration<double, std::milli>(d).count() * time_scale();
  return std::chrono::milliseconds(static_cast<long long>(ms));
}

}  // namespace anonx::testing
