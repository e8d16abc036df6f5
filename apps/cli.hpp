// What the apps share, so that each main is flags, config, one library call and an exit code:
// CLI11 checks with messages a user can act on (CLI11's own range checks print the limits of
// double), parsing that turns every usage error into one line and exit code 2, the one-line error
// format, the stop signals, the progress line of a terminal, the run log, and run_main, which maps
// an exception to its exit code (and, under MPI, one rank's own error to an abort of the job).
#pragma once

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "lrnn/core/comm.hpp"

namespace lrnn::cli {

/// A number > 0.
CLI::Validator positive();

/// Prints "NAME: error: WHAT" on stderr as one line (first clearing a progress line when
/// `clear_line`) and returns `code`.
int fail(const std::string& name, int code, const std::string& what, bool clear_line = false);

/// Parses the command line. Returns the exit code when the app should stop here: 0 after
/// --help, 2 after a usage error (one line; CLI11 would add a second); nullopt to go on. With
/// `quiet` (MPI ranks other than 0, which parse the same line) nothing is printed.
std::optional<int> parse(CLI::App& app, int argc, char** argv, bool quiet = false);

/// Sends what the library logs (a note such as "checkpoint without checksums") to stderr as
/// "NAME: LEVEL: text" lines, so that stdout carries only the app's own output (--json).
void log_to_stderr(const std::string& name);

/// When this process was started by a launcher that this build cannot serve (an MPI job of a
/// build without MPI, ...): the one-line error and exit code 2; nullopt to go on.
std::optional<int> refuse_bad_launch(const std::string& name);

/// Whether stderr is a terminal (progress lines are rewritten in place only there).
bool stderr_is_tty();

/// SIGINT and SIGTERM ask the library to stop (it polls `flag()` once per time step); a second
/// signal exits at once with 128 + its number. One per process, made before the long work.
class StopSignals {
 public:
  StopSignals();
  const std::atomic<bool>* flag() const;
  /// 128 + the signal received; 128 + SIGTERM when this rank stopped because another did (what
  /// launchers send).
  int exit_code() const;
};

/// One status line on stderr, rewritten in place on a terminal; nothing anywhere else.
class ProgressLine {
 public:
  explicit ProgressLine(bool tty) : tty_(tty) {}
  bool tty() const { return tty_; }
  void show(const std::string& line);  ///< replaces the line (terminal only)
  void clear();                        ///< removes it (terminal only)
  void end();                          ///< ends it with a newline (terminal only)

 private:
  bool tty_;
};

/// The run log of lrnn-train: log lines go to stderr and to `path`. On a terminal each console
/// line first clears the progress line, so the two never run together. Returns a logger that
/// writes to the file only.
std::shared_ptr<spdlog::logger> open_run_log(const std::string& path, bool tty);

/// Ranks other than 0 write no files and print errors only, tagged with their rank.
void log_rank_errors_only(int rank);

/// "H:MM:SS".
std::string format_duration(double seconds);

/// How run_main reports an error: one line "NAME: error: WHAT" on stderr (kLine), or the log's
/// [error] line (kLog: lrnn-train, whose log is also its train.log).
enum class ErrorStyle { kLine, kLog };

/// Runs `body` and returns its exit code. An exception becomes one message and its exit code
/// (2 for the user's config or input, 1 for a failed run: lrnn::exit_code_of): printed by rank 0
/// when every rank met it (or there is one rank); an error of this rank alone is printed with its
/// rank and aborts the MPI job (the others may be waiting for it in a collective).
int run_main(const std::string& name, const Comm& comm, ErrorStyle style,
             const std::function<int()>& body, bool clear_line = false);

/// run_main for a process of one rank.
int run_main(const std::string& name, const std::function<int()>& body, bool clear_line = false);

}  // namespace lrnn::cli
