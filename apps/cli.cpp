#include "cli.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "lrnn/core/errors.hpp"

namespace lrnn::cli {
namespace {

std::atomic<bool> g_stop{false};
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int sig) {
  if (g_stop.load()) std::_Exit(128 + sig);  // a second interrupt: leave at once
  g_signal = sig;
  // exchange: of two signals handled at once on two threads, one still counts as the second.
  if (g_stop.exchange(true)) std::_Exit(128 + sig);
}

}  // namespace

CLI::Validator positive() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(text, x)) return "'" + text + "' is not a number";
        if (!(x > 0)) return "'" + text + "' must be > 0";
        return {};
      },
      "> 0");
}

int fail(const std::string& name, int code, const std::string& what, bool clear_line) {
  std::fprintf(stderr, "%s%s: error: %s\n", clear_line ? "\r\033[K" : "", name.c_str(),
               what.c_str());
  return code;
}

std::optional<int> parse(CLI::App& app, int argc, char** argv, bool quiet) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return quiet ? 0 : app.exit(e);
  } catch (const CLI::ParseError& e) {
    return quiet ? 2 : fail(app.get_name(), 2, std::string(e.what()) + " (see --help)");
  }
  return std::nullopt;
}

void log_to_stderr(const std::string& name) {
  auto logger =
      std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%n: %l: %v");
  spdlog::set_default_logger(std::move(logger));
}

std::optional<int> refuse_bad_launch(const std::string& name) {
  if (const std::string problem = mpi_launch_problem(); !problem.empty()) {
    return fail(name, 2, problem);
  }
  return std::nullopt;
}

bool stderr_is_tty() { return isatty(STDERR_FILENO) != 0; }

StopSignals::StopSignals() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

const std::atomic<bool>* StopSignals::flag() const { return &g_stop; }

int StopSignals::exit_code() const {
  return 128 + (g_signal != 0 ? static_cast<int>(g_signal) : SIGTERM);
}

void ProgressLine::show(const std::string& line) {
  if (!tty_) return;
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
}

void ProgressLine::clear() {
  if (tty_) std::fprintf(stderr, "\r\033[K");
}

void ProgressLine::end() {
  if (tty_) std::fprintf(stderr, "\n");
}

std::shared_ptr<spdlog::logger> open_run_log(const std::string& path, bool tty) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  console->set_pattern(std::string(tty ? "\r\033[K" : "") + "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  file->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  auto logger = std::make_shared<spdlog::logger>("lrnn", spdlog::sinks_init_list{console, file});
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  auto file_only = std::make_shared<spdlog::logger>("lrnn-file", file);
  file_only->flush_on(spdlog::level::info);
  return file_only;
}

void log_rank_errors_only(int rank) {
  auto console = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  console->set_pattern(fmt::format("[%Y-%m-%d %H:%M:%S.%e] [%l] [rank {}] %v", rank));
  auto logger = std::make_shared<spdlog::logger>("lrnn", console);
  logger->set_level(spdlog::level::err);
  spdlog::set_default_logger(logger);
}

std::string format_duration(double seconds) {
  const auto total = static_cast<long>(seconds + 0.5);
  return fmt::format("{}:{:02d}:{:02d}", total / 3600, (total / 60) % 60, total % 60);
}

int run_main(const std::string& name, const Comm& comm, ErrorStyle style,
             const std::function<int()>& body, bool clear_line) {
  try {
    return body();
  } catch (const std::exception& e) {
    const int code = exit_code_of(e);
    const auto report = [&](const std::string& what) {
      if (style == ErrorStyle::kLog) {
        spdlog::error("{}", what);
      } else {
        fail(name, code, what, clear_line);
      }
    };
    if (comm.size() == 1 || collective_mark(e) != nullptr) {
      if (comm.is_root()) report(e.what());
      return code;
    }
    // This rank's own error: the others may be waiting for it in an allreduce.
    report(fmt::format("rank {}: {}", comm.rank(), e.what()));
    comm.abort(code);
    return code;  // not reached: abort ends every rank
  }
}

int run_main(const std::string& name, const std::function<int()>& body, bool clear_line) {
  return run_main(name, serial_comm(), ErrorStyle::kLine, body, clear_line);
}

}  // namespace lrnn::cli
