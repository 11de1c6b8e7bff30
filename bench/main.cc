// SPDX-License-Identifier: GPL-2.0-only
// main.cc: anonx-bench's entry point. Google Benchmark's main, plus the build
// facts that make a recorded run comparable, added to the JSON `context`:
// compiler, build_type, optimization, ptl, sanitizer. tools/bench.py adds the
// git commit. `anonx-bench --anonx_context` prints the same facts as
// key=value lines and exits.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "ptl.h"

#ifndef ANONX_BUILD_TYPE
#define ANONX_BUILD_TYPE "unknown"
#endif
#ifndef ANONX_OPTIMIZATION
#define ANONX_OPTIMIZATION "unknown"
#endif

namespace {

std::vector<std::pair<std::string, std::string>> anonx_context() {
#if defined(__clang__)
  const std::string compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  const std::string compiler = std::string("gcc ") + __VERSION__;
#else
  const std::string compiler = "unknown";
#endif
#if defined(ANONX_TSAN)
  const char *sanitizer = "thread";
#else
  const char *sanitizer = "none";
#endif
  return {
      {"compiler", compiler},
      {"build_type", ANONX_BUILD_TYPE},
      {"optimization", ANONX_OPTIMIZATION},
      {"ptl", anonx::kPtlName},
      {"sanitizer", sanitizer},
  };
}

}  // namespace

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--anonx_context") == 0) {
      for (const auto &[k, v] : anonx_context()) std::printf("%s=%s\n", k.c_str(), v.c_str());
      return 0;
    }
  }
  for (const auto &[k, v] : anonx_context()) benchmark::AddCustomContext(k, v);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
