// lrnn-train CONFIG.yaml [--out DIR] [--set key.path=value]... [--resume CKPT] [--threads N]
// Exit codes: 0 finished, 1 the run failed (diverged, I/O error), 2 bad usage, config or input,
// 130 / 143 interrupted by SIGINT / SIGTERM after writing a checkpoint.
//
// Built with LRNN_WITH_MPI, `mpirun -np P lrnn-train CONFIG` trains one network data-parallel over
// P ranks: rank 0 writes the run directory and the log, the other ranks print only errors. An
// error on one rank ends the job (MPI_Abort) with "rank r: ..." instead of leaving the others
// waiting.
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "cli.hpp"
#include "lrnn/config/config.hpp"
#include "lrnn/core/comm.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/train/trainer.hpp"

namespace {

std::atomic<bool> g_stop{false};
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int sig) {
  if (g_stop.load()) std::_Exit(128 + sig);  // a second interrupt: leave at once
  g_signal = sig;
  // exchange: of two signals handled at once on two threads, one still counts as the second.
  if (g_stop.exchange(true)) std::_Exit(128 + sig);
}

// Log lines go to stderr and train.log. On a terminal each console line first clears the
// progress line, so the two never run together. Returns a logger that writes to the file only.
std::shared_ptr<spdlog::logger> set_up_logging(const std::string& log_path, bool tty) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_path);
  console->set_pattern(std::string(tty ? "\r\033[K" : "") + "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  file->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  auto logger = std::make_shared<spdlog::logger>("lrnn", spdlog::sinks_init_list{console, file});
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  auto file_only = std::make_shared<spdlog::logger>("lrnn-file", file);
  file_only->flush_on(spdlog::level::info);
  return file_only;
}

// Ranks other than 0 write no files and print errors only, tagged with their rank.
void set_up_rank_logging(int rank) {
  auto console = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  console->set_pattern(fmt::format("[%Y-%m-%d %H:%M:%S.%e] [%l] [rank {}] %v", rank));
  auto logger = std::make_shared<spdlog::logger>("lrnn", console);
  logger->set_level(spdlog::level::err);
  spdlog::set_default_logger(logger);
}

std::string format_duration(double s) {
  const auto total = static_cast<long>(s + 0.5);
  return fmt::format("{}:{:02d}:{:02d}", total / 3600, (total / 60) % 60, total % 60);
}

}  // namespace

int main(int argc, char** argv) {
  lrnn::CommSession session(argc, argv);
  const lrnn::Comm& comm = session.world();
  const bool root = comm.is_root();
  if (const std::string problem = lrnn::mpi_launch_problem(); !problem.empty()) {
    return lrnn::cli::fail("lrnn-train", 2, problem);
  }
  CLI::App app{
      "Train a low-rank RNN (Mastrogiuseppe & Ostojic 2018) on the contextual switch task.",
      "lrnn-train"};
  std::string config_path;
  std::string out_dir;
  std::vector<std::string> overrides;
  std::string resume;
  int threads = 0;
  bool overwrite = false;
  app.add_option("config", config_path, "YAML config (see configs/default.yaml)")->required();
  app.add_option("--out", out_dir, "run directory (overrides output.dir)");
  app.add_option("--set", overrides,
                 "override a config key, e.g. --set training.learning_rate=0.01")
      ->type_name("KEY=VALUE");
  app.add_option("--resume", resume, "continue exactly from this checkpoint of the same config");
  app.add_option("--threads", threads, "threads (default: training.threads, else all cores)")
      ->check(lrnn::cli::positive());
  app.add_flag("--overwrite", overwrite,
               "replace an earlier run in the output directory (by default lrnn refuses)");
  app.footer(
      "Exit codes: 0 finished; 1 run failed (diverged, I/O); 2 bad usage, config or input;\n"
      "130/143 interrupted (a checkpoint is written first; resume with --resume).");
  if (const auto code = lrnn::cli::parse(app, argc, argv, !root)) return *code;

  lrnn::Config config;
  lrnn::RunDir run;
  const bool tty = lrnn::cli::stderr_is_tty();
  std::shared_ptr<spdlog::logger> file_log;
  try {
    // Every rank loads the config (train() checks that they agree); rank 0 alone prepares the
    // run directory. A failure on any rank ends every rank here, with one message.
    lrnn::run_collectively(comm, [&] {
      config = lrnn::load_config(config_path, overrides);
      if (app.count("--out") > 0) {
        if (out_dir.empty()) throw lrnn::ConfigError("--out: the run directory must not be empty");
        config.output.dir = out_dir;  // taken literally, not parsed as YAML
      }
      const auto mode = !resume.empty() ? lrnn::RunDirMode::kResume
                        : overwrite     ? lrnn::RunDirMode::kOverwrite
                                        : lrnn::RunDirMode::kNew;
      if (root) {
        run = lrnn::prepare_run_dir(config.output.dir, mode);
        file_log = set_up_logging(run.log(), tty);
      } else {
        run = lrnn::RunDir{config.output.dir};
        set_up_rank_logging(comm.rank());
      }
    });
  } catch (const std::exception& e) {
    if (root) std::fprintf(stderr, "lrnn-train: error: %s\n", e.what());
    return 2;
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  lrnn::TrainRunOptions options;
  options.resume = resume;
  options.threads = threads;
  options.stop_requested = &g_stop;
  options.comm = &comm;
  std::int64_t first_step = -1;
  options.on_step = [&](const lrnn::StepReport& r) {
    // Rate over the steps this process has run (a resume starts counting again).
    if (first_step < 0) first_step = r.step - 1;
    const double rate =
        r.elapsed_s > 0 ? static_cast<double>(r.step - first_step) / r.elapsed_s : 0.0;
    const double left = rate > 0 ? static_cast<double>(r.total_steps - r.step) / rate : 0.0;
    // Solver work per batch: accepted (+rejected) time steps, RHS evaluations forward/backward.
    const std::string solver =
        r.stats.steps_rejected > 0 || r.stats.steps_accepted != r.stats.rhs_forward
            ? fmt::format("  ode {}+{} rhs {}/{}", r.stats.steps_accepted, r.stats.steps_rejected,
                          r.stats.rhs_forward, r.stats.rhs_backward)
            : "";
    const std::string line = fmt::format(
        "step {}/{}  loss {:.4f}  acc {:.3f}  |g| {:.3f}  lr {:.2e}{}  {:.2f} steps/s  left {}",
        r.step, r.total_steps, r.loss, r.accuracy, r.grad_norm, r.learning_rate, solver, rate,
        format_duration(left));
    const bool periodic =
        r.step % std::max<std::int64_t>(1, r.total_steps / 50) == 0 || r.step == r.total_steps;
    if (tty) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
      std::fflush(stderr);
      if (periodic) file_log->info("{}", line);
    } else if (periodic) {
      spdlog::info("{}", line);
    }
  };
  if (!root) options.on_step = nullptr;  // rank 0 alone reports progress

  try {
    const lrnn::TrainSummary s = lrnn::train(config, run, options);
    if (s.status == lrnn::TrainStatus::kInterrupted) {
      if (root && tty) std::fprintf(stderr, "\n");
      if (root) spdlog::warn("{}", s.message);
      // A rank stopped because another rank was signalled reports SIGTERM, what launchers send.
      return 128 + (g_signal != 0 ? static_cast<int>(g_signal) : SIGTERM);
    }
    if (!root) return 0;
    if (tty) std::fprintf(stderr, "\n");
    const auto& v = s.final_validation;
    spdlog::info("done: {} steps in {:.1f} s ({:.1f} s in training steps){}", s.steps_done,
                 s.wall_time_s, s.step_time_s,
                 s.status == lrnn::TrainStatus::kStoppedEarly ? ", stopped early" : "");
    spdlog::info(
        "final validation: loss {:.4f}, accuracy {:.4f} (context 1 {:.4f}, context 2 "
        "{:.4f}); best loss {:.4f} at step {}",
        v.loss, v.accuracy, v.accuracy_ctx[0], v.accuracy_ctx[1], s.best_val_loss, s.best_step);
    spdlog::info("outputs in {}: final.h5{}, metrics.jsonl, checkpoints/", run.root,
                 std::filesystem::exists(run.best()) ? ", best.h5" : "");
    return 0;
  } catch (const std::exception& e) {
    // 2 for the user's config or input, 1 for a failed run (diverged, I/O).
    const int code = lrnn::exit_code_of(e);
    if (comm.size() == 1 || lrnn::collective_mark(e) != nullptr) {
      if (root) spdlog::error("{}", e.what());
      return code;
    }
    // This rank's own error: the others may be waiting for it in an allreduce.
    spdlog::error("rank {}: {}", comm.rank(), e.what());
    comm.abort(code);
  }
}
