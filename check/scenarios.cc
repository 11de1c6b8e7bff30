// SPDX-License-Identifier: GPL-2.0-only
// scenarios.cc: the registry's scenarios bound to their Relacy pairs (pairs.h), and
// one cell: a pair, a platform, a search.
#include "frontend.h"

namespace anonx::check {

// ---- scenarios ---------------------------------------------------------------

// Relacy's output goes through a stream it writes while its own operator
// new is in force (inside the context, a heap block from before is not
// its to free): a FILE-backed stream buffer, which never allocates.
class file_buf final : public std::streambuf {
 public:
  explicit file_buf(FILE *f) : f_(f) {}

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) std::fputc(c, f_);
    return c;
  }
  std::streamsize xsputn(const char *s, std::streamsize n) override {
    return static_cast<std::streamsize>(std::fwrite(s, 1, static_cast<size_t>(n), f_));
  }

 private:
  FILE *f_;
};

std::string slurp(FILE *f) {
  std::string s;
  std::fflush(f);
  std::rewind(f);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  return s;
}

template <class Pair>
pair_result run_pair(const rl::test_params &base) {
  rl::test_params p = base;
  FILE *out_f = std::tmpfile(), *null_f = std::fopen("/dev/null", "w");
  if (!out_f || !null_f) throw std::runtime_error("cannot open a temporary file");
  file_buf out_b(out_f), null_b(null_f);
  std::ostream out(&out_b), progress(&null_b);
  p.output_stream = &out;
  p.progress_stream = &progress;
  // A persistent pair (pairs.h) is set up here, once, outside Relacy.
  std::unique_ptr<Pair> world;
  if constexpr (Pair::kPersistent) {
    g_backend.live = false;
    world = std::make_unique<Pair>();
    pair_test<Pair>::persistent = world.get();
  }
  const auto t0 = std::chrono::steady_clock::now();
  const bool ok = rl::simulate<pair_test<Pair>>(p);
  g_backend.live = false;  // the persistent world's teardown is no Relacy event
  pair_result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t start = 0;
  if (!base.initial_state.empty()) start = std::strtoull(base.initial_state.c_str(), nullptr, 10);
  r.schedules = p.stop_iteration - start + (ok ? 0 : 1);
  r.failed = !ok;
  if (!ok) {
    r.what = rl::test_result_str(p.test_result);
    r.history = slurp(out_f);
  }
  std::fclose(out_f);
  std::fclose(null_f);
  // After a failure the pair may hold blocks of Relacy's heap (the iteration
  // was abandoned): leave it.
  if (r.failed) (void)world.release();
  return r;
}

// The Relacy pair of each scenario that has one, in the order of --list and
// --scenario all; every other scenario of the registry follows with the
// reason it has none.
const std::vector<scenario> &scenarios() {
  using S = harness::scenario_id;
  static const std::pair<S, runner> pairs[] = {
      {S::sb_clear_flag_vs_pin, run_pair<sb_pair>},
      {S::mp_ksm_vs_ro_pin, run_pair<mp_pair>},
      {S::swapout_vs_gup_fast, run_pair<swapout_pair<false>>},
      {S::swapout_vs_gup_fast_ro, run_pair<swapout_pair<true>>},
      {S::ksm_vs_gup_fast, run_pair<ksm_pair>},
      {S::migrate_vs_gup_fast, run_pair<migrate_pair>},
      {S::fork_vs_gup_fast, run_pair<fork_pair<false>>},
      {S::fork_vs_gup_fast_ro, run_pair<fork_pair<true>>},
      {S::fork_vs_gup_fast_haspinned, run_pair<fork_pair<false, true>>},
  };
  static const std::vector<scenario> table = [] {
    std::vector<scenario> t;
    auto add = [&](const harness::scenario_def &d, runner r) {
      const harness::relacy_def &x = d.relacy;
      t.push_back({d.name, d.id, x.shape, x.what, x.oracles, x.bounded, r, x.why_not,
                   x.finding_check, x.finding_platform, x.finding});
    };
    for (const auto &[id, r] : pairs) {
      if (!(harness::def(id).backends & harness::kRelacy))
        throw std::logic_error(std::string("registry: ") + harness::name_of(id) +
                               " is not marked for the Relacy back end");
      add(harness::def(id), r);
    }
    for (const auto &d : harness::registry()) {
      if (d.backends & harness::kRelacy) {
        bool bound = false;
        for (const auto &pr : pairs) bound |= pr.first == d.id;
        if (!bound) throw std::logic_error(std::string("no Relacy pair for ") + d.name);
        continue;
      }
      add(d, nullptr);
    }
    return t;
  }();
  return table;
}

// Does the mutant's catalogue entry target the preset s stands for?
bool names_mutant(const mutant_info &m, const scenario &s) { return harness::targets(m.id, s.id); }

const scenario *find_scenario(const std::string &n) {
  for (const auto &s : scenarios())
    if (n == s.name) return &s;
  return nullptr;
}

cell_result run_cell(const scenario &s, platform pl, const search &sr, const runtime_protocol &pr,
                     uint64_t seed) {
  g_proto = pr;
  g_proto.plat = pl;
  g_proto.reorder = false;  // Relacy reorders; no scripted store buffer
  cell_result c{&s, pl, sr, {}};
  c.r = s.run(params_of(sr, seed));
  if (c.r.failed) c.r.what = verdict_of(c.r.history, c.r.what);
  return c;
}

}  // namespace anonx::check
