// SPDX-License-Identifier: GPL-2.0-only
// options.cc: the command line of anonx-check, parsed by CLI11 as
// anonx-stress's is (stress/options.cc): the options in groups, with CLI11's
// generated help; every value checked before any work, a bad one is one line
// naming it and exit 2 (harness/cli.h).
#include "cli_app.h"
#include "frontend.h"

namespace anonx::check {
namespace {

const char *kSearchNote =
    "Default search: --iterations 100000 on each scenario and --context-bound 2 on those\n"
    "small enough (--list); giving either (or --full) runs only what is given. Default platform:\n"
    "rcu (no TLB flush waits for GUP-fast: the barriers alone order the pairs).\n";

void value(CLI::App &app, const char *name, const char *type, const char *help, const char *group,
           std::function<void(const std::string &)> set) {
  cli::value(app, name, type, help, group, std::move(set));
}

void flag(CLI::App &app, const char *name, const char *help, const char *group, bool *to) {
  cli::flag(app, name, help, group, [to] { *to = true; });
}

// What needs every option: --mutant against --protocol, the scenarios.
void resolve(options &o, const std::string &scen) {
  if (o.mut && !o.protocol_given) o.proto.gen = o.mut->base;
  if (o.mut) o.proto.mut = o.mut->id;
  if (scen == "all") {
    // every scenario that fits the back end; with a mutant, those meant to
    // expose it that fit (all that fit when none does)
    for (const auto &s : scenarios()) {
      if (!s.run || s.why_not) continue;
      if (o.mut && !o.scen_given && !names_mutant(*o.mut, s)) continue;
      o.scens.push_back(&s);
    }
    if (o.scens.empty())
      for (const auto &s : scenarios())
        if (s.run && !s.why_not) o.scens.push_back(&s);
  } else {
    for (auto &x : split(scen, ',')) {
      const scenario *s = find_scenario(x);
      if (!s) bad("--scenario: unknown scenario '" + x + "' (see --list)");
      if (!s->run) bad("--scenario: '" + x + "' does not fit the Relacy back end: " + s->why_not);
      o.scens.push_back(s);
    }
  }
  if (o.mut && o.mut->id == mutant::b12_nonatomic_flag && !o.kill_matrix)
    bad("--mutant: 'b12_nonatomic_flag' needs a plain RMW on an atomic word, which the Relacy "
        "back end does not model (see --list)");
}

std::unique_ptr<CLI::App> make_app(options &o, std::string &scen, bool &json_flag) {
  auto owned = std::make_unique<CLI::App>(
      "anonx-check: core/ under Relacy, the model checker of the C++ memory model", "anonx-check");
  CLI::App &app = *owned;
  app.footer(std::string(kSearchNote) +
             "Exit: 0 as expected; 1 a forbidden outcome or an escaped mutant; 2 bad usage; 3 "
             "internal error.");
  cli::init_app(app);
  const char *sel = "Selection", *srch = "Search", *km = "Kill matrix", *out = "Output";
  flag(app, "--list", "list the pairs, the known findings and the mutants, then exit", out,
       &o.list);
  // --json FILE; after --list, --json alone: the listing as JSON
  app.add_option_function<std::string>(
         "--json",
         [&](const std::string &v) {
           json_flag = true;
           o.json_path = v;
         },
         "write the JSON report to FILE (a temporary file, then renamed); --list --json: the "
         "listing as JSON on stdout")
      ->type_name("FILE")
      ->expected(0, 1)
      ->group(out)
      ->trigger_on_parse();
  value(app, "--scenario", "NAME[,NAME]|all", "the pairs to run (default all that fit; see --list)",
        sel, [&](const std::string &v) {
          scen = v;
          o.scen_given = true;
        });
  value(app, "--protocol", "v5.18|v5.19|v6.0|v6.1|v6.2",
        "the protocol generation (default v6.2; with --mutant, its base)", sel,
        [&](const std::string &v) {
          o.proto.gen = cli::parse_protocol(v);
          o.protocol_given = true;
        });
  value(app, "--platform", "x86|rcu|x86,rcu",
        "who waits for GUP-fast: x86's flush IPI, or RCU table freeing (default rcu)", sel,
        [&](const std::string &v) { o.platforms = cli::parse_platforms(v); });
  value(app, "--mutant", "NAME|none", "a named deviation, on its base generation (see --list)",
        sel, [&](const std::string &v) { o.mut = cli::parse_mutant(v); });
  value(app, "--weaken", "core/FILE:LINE",
        "drop the barrier or weaken the order at that core/ site (the barrier accounting)", sel,
        [&](const std::string &v) {
          const auto c = v.rfind(':');
          if (c == std::string::npos || c == 0 || v.rfind("core/", 0) != 0)
            bad("--weaken: '" + v + "' is not core/FILE:LINE");
          o.weaken = site_key{v.substr(0, c), static_cast<unsigned>(parse_u64(
                                                  "--weaken", v.substr(c + 1), true))};
        });
  value(app, "--iterations", "N", "random search: N schedules per cell", srch,
        [&](const std::string &v) { o.iterations = parse_u64("--iterations", v, true); });
  value(app, "--context-bound", "K", "context-bound search, exhaustive within K preemptions (K <= 8)",
        srch, [&](const std::string &v) {
          const uint64_t k = parse_u64("--context-bound", v, false);
          if (k > 8) bad("--context-bound: '" + std::to_string(k) + "' is above 8");
          o.context_bound = static_cast<int>(k);
        });
  flag(app, "--full", "the full search (bounded pairs only)", srch, &o.full);
  value(app, "--seed", "N", "the random search starts at schedule N << 32 (default 0)", srch,
        [&](const std::string &v) { o.seed = parse_u64("--seed", v, false); });
  flag(app, "--kill-matrix", "every mutant against the pairs meant to expose it, --seeds K each",
       km, &o.kill_matrix);
  value(app, "--seeds", "K", "kill matrix: random searches per cell (default 3, at most 1000)", km,
        [&](const std::string &v) {
          const uint64_t k = parse_u64("--seeds", v, true);
          if (k > 1000) bad("--seeds: '" + std::to_string(k) + "' is above 1000");
          o.seeds = static_cast<unsigned>(k);
        });
  flag(app, "--sites", "list the core/ barrier and order sites the pairs reach, then exit", out,
       &o.sites);
  flag(app, "--quiet", "no per-cell lines for passing cells, no traces of known findings", out,
       &o.quiet);
  return owned;
}

}  // namespace

std::string usage() {
  options o;
  std::string scen;
  bool json_flag = false;
  return cli::synopsis(*make_app(o, scen, json_flag), "anonx-check") + kSearchNote;
}

options parse(int argc, char **argv) {
  options o;
  for (int i = 0; i < argc; i++) o.argv.push_back(argv[i]);
  std::string scen = "all";
  bool json_flag = false;
  const auto owned = make_app(o, scen, json_flag);
  CLI::App &app = *owned;
  cli::parse_app(app, argc, argv);
  if (json_flag && o.json_path.empty()) {
    if (!o.list) bad("--json: missing value");
    o.list_json = true;
  }
  resolve(o, scen);
  return o;
}

}  // namespace anonx::check
