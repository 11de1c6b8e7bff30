// SPDX-License-Identifier: GPL-2.0-only
// main.cc: anonx-stress, the threaded back end: the signals that stop a run
// and keep its report, the exit codes, main().
#include "frontend.h"

namespace anonx::stress::cmd {

// The first SIGINT or SIGTERM stops the run (request_stop: each cell at its
// next iteration, then the summary and the report); a second one exits at
// once. Only async-signal-safe calls here.
void on_stop_signal(int sig) {
  if (!request_stop(sig)) {
    static const char now[] = "\nanonx-stress: stopped again: exiting at once\n";
    (void)!write(2, now, sizeof now - 1);
    _exit(128 + sig);
  }
  static const char msg_int[] =
      "\nanonx-stress: SIGINT: stopping at the next iteration, then the summary and the report "
      "(Ctrl-C again: exit at once)\n";
  static const char msg_term[] =
      "\nanonx-stress: SIGTERM: stopping at the next iteration, then the summary and the "
      "report\n";
  if (sig == SIGINT)
    (void)!write(2, msg_int, sizeof msg_int - 1);
  else
    (void)!write(2, msg_term, sizeof msg_term - 1);
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// A stopped run exits 128 + the signal, as a shell reports it, unless it
// found what exit 1 reports before the stop.
int exit_code(int rc) {
  const int sig = stop_signal();
  return sig && rc == 0 ? 128 + sig : rc;
}

}  // namespace anonx::stress::cmd

int main(int argc, char **argv) {
  using namespace anonx::stress::cmd;
  try {
    options o = parse(argc, argv);
    if (o.list) {
      print_list(o.list_json);
      return 0;
    }
    if (!o.profile_report_path.empty()) {
      print_profile_tables(o.profile_report);
      return 0;
    }
    check_limits(o);
    install_stop_handlers();
    return exit_code(o.kill_matrix ? run_kill_matrix(o) : run_scenarios(o));
  } catch (const usage_error &e) {
    std::fprintf(stderr, "anonx-stress: %s\n%s", e.msg.c_str(), usage().c_str());
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "anonx-stress: internal error: %s\n", e.what());
    return 3;
  }
}
