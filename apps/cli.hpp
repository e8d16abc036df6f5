// What the apps share on the command line: CLI11 checks with messages a user can act on (CLI11's
// own range checks print the limits of double), parsing that turns every usage error into one
// line and exit code 2, and the one-line error format.
#pragma once

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

namespace lrnn::cli {

/// A number > 0.
inline CLI::Validator positive() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(text, x)) return "'" + text + "' is not a number";
        if (!(x > 0)) return "'" + text + "' must be > 0";
        return {};
      },
      "> 0");
}

/// Prints "NAME: error: WHAT" on stderr as one line (first clearing a progress line when
/// `clear_line`) and returns `code`.
inline int fail(const std::string& name, int code, const std::string& what,
                bool clear_line = false) {
  std::fprintf(stderr, "%s%s: error: %s\n", clear_line ? "\r\033[K" : "", name.c_str(),
               what.c_str());
  return code;
}

/// Parses the command line. Returns the exit code when the app should stop here: 0 after
/// --help, 2 after a usage error (one line; CLI11 would add a second); nullopt to go on. With
/// `quiet` (MPI ranks other than 0, which parse the same line) nothing is printed.
inline std::optional<int> parse(CLI::App& app, int argc, char** argv, bool quiet = false) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return quiet ? 0 : app.exit(e);
  } catch (const CLI::ParseError& e) {
    return quiet ? 2 : fail(app.get_name(), 2, std::string(e.what()) + " (see --help)");
  }
  return std::nullopt;
}

/// Sends what the library logs (a note such as "checkpoint without checksums") to stderr as
/// "NAME: LEVEL: text" lines, so that stdout carries only the app's own output (--json).
inline void log_to_stderr(const std::string& name) {
  auto logger =
      std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%n: %l: %v");
  spdlog::set_default_logger(std::move(logger));
}

/// Whether stderr is a terminal (progress lines are rewritten in place only there).
inline bool stderr_is_tty() { return isatty(STDERR_FILENO) != 0; }

}  // namespace lrnn::cli
