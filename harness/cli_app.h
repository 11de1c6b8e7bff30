// SPDX-License-Identifier: GPL-2.0-only
// cli_app.h: how anonx-stress and anonx-check build their command lines on
// CLI11: every option is declared once, in a group, with its help (CLI11
// generates --help and the synopsis from those declarations); every value
// is checked, in command-line order, by a setter that calls cli::bad() on a
// bad one (one line naming the value, exit 2); CLI11's own parse errors
// become the same one line.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <string>

#include "cli.h"

namespace anonx::cli {

// A value option, checked by set(v) as it is parsed.
inline CLI::Option *value(CLI::App &app, const char *name, const char *type, const char *help,
                          const char *group, std::function<void(const std::string &)> set) {
  return app.add_option_function<std::string>(name, std::move(set), help)
      ->type_name(type)
      ->group(group)
      ->trigger_on_parse();
}

// A flag, run as it is parsed.
inline CLI::Option *flag(CLI::App &app, const char *name, const char *help, const char *group,
                         std::function<void()> set) {
  return app.add_flag_callback(name, std::move(set), help)->group(group)->trigger_on_parse();
}

// The common set-up: --help in command-line order, as every option (a bad
// value before it is bad usage; --help before a bad value prints the help),
// unknown arguments kept to be named by parse_app.
inline void init_app(CLI::App &app) {
  app.allow_extras();
  app.set_help_flag();
  app.add_flag_callback("-h,--help", [] { throw CLI::CallForHelp(); }, "print this help and exit")
      ->trigger_on_parse();
}

// The synopsis, from the app's own options, wrapped at 100 columns.
inline std::string synopsis(const CLI::App &app, const std::string &prog) {
  const std::string indent(prog.size() + 7, ' ');
  std::string out = "usage: " + prog;
  size_t col = out.size();
  for (const CLI::Option *opt : app.get_options()) {
    if (opt->get_name() == "--help") continue;
    const std::string type = opt->get_type_name();
    const std::string item = " [" + opt->get_name() + (type.empty() ? "" : " " + type) + "]";
    if (col + item.size() > 100) out += "\n" + indent, col = indent.size() - 1;
    out += item;
    col += item.size();
  }
  return out + "\n";
}

// Parses; --help prints CLI11's help and exits 0; every error is bad().
inline void parse_app(CLI::App &app, int argc, char **argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &) {
    std::cout << app.help();
    std::exit(0);
  } catch (const CLI::ArgumentMismatch &e) {  // "NAME: 1 required TYPE missing"
    const std::string m = e.what();
    bad(m.substr(0, m.find(':')) + ": missing value");
  } catch (const CLI::ParseError &e) {
    bad(e.what());
  }
  if (!app.remaining().empty()) bad("unknown option '" + app.remaining().front() + "'");
}

}  // namespace anonx::cli
