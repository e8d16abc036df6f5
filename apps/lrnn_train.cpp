// lrnn-train CONFIG.yaml [--out DIR] [--set key.path=value]... [--resume CKPT] [--threads N]
// Exit codes: 0 finished, 1 the run failed (diverged, I/O error), 2 bad usage, config or input,
// 130 / 143 interrupted by SIGINT / SIGTERM after writing a checkpoint.
//
// Built with LRNN_WITH_MPI, `mpirun -np P lrnn-train CONFIG` trains one network data-parallel over
// P ranks: rank 0 writes the run directory and the log, the other ranks print only errors. An
// error on one rank ends the job (MPI_Abort) with "rank r: ..." instead of leaving the others
// waiting.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "cli.hpp"
#include "lrnn/config/config.hpp"
#include "lrnn/core/comm.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/train/trainer.hpp"

namespace {

struct Flags {
  std::string config_path;
  std::string out_dir;
  std::vector<std::string> overrides;
  std::string resume;
  int threads = 0;
  bool overwrite = false;
};

void add_flags(CLI::App& app, Flags& f) {
  app.add_option("config", f.config_path, "YAML config (see configs/default.yaml)")->required();
  app.add_option("--out", f.out_dir, "run directory (overrides output.dir)");
  app.add_option("--set", f.overrides,
                 "override a config key, e.g. --set training.learning_rate=0.01")
      ->type_name("KEY=VALUE");
  app.add_option("--resume", f.resume, "continue exactly from this checkpoint of the same config");
  app.add_option("--threads", f.threads, "threads (default: training.threads, else all cores)")
      ->check(lrnn::cli::positive());
  app.add_flag("--overwrite", f.overwrite,
               "replace an earlier run in the output directory (by default lrnn refuses)");
  app.footer(
      "Exit codes: 0 finished; 1 run failed (diverged, I/O); 2 bad usage, config or input;\n"
      "130/143 interrupted (a checkpoint is written first; resume with --resume).");
}

struct Run {
  lrnn::Config config;
  lrnn::RunDir dir;
  std::shared_ptr<spdlog::logger> file_log;  ///< rank 0: train.log alone, for progress lines
};

// Every rank loads the config (train() checks that they agree); rank 0 alone prepares the run
// directory and its log. A failure on any rank ends every rank here, with one message.
Run prepare(const Flags& f, bool out_given, const lrnn::Comm& comm, bool tty) {
  Run run;
  lrnn::run_collectively(comm, [&] {
    run.config = lrnn::load_config(f.config_path, f.overrides);
    if (out_given) {
      if (f.out_dir.empty()) throw lrnn::ConfigError("--out: the run directory must not be empty");
      run.config.output.dir = f.out_dir;  // taken literally, not parsed as YAML
    }
    const auto mode = !f.resume.empty() ? lrnn::RunDirMode::kResume
                      : f.overwrite     ? lrnn::RunDirMode::kOverwrite
                                        : lrnn::RunDirMode::kNew;
    if (comm.is_root()) {
      run.dir = lrnn::prepare_run_dir(run.config.output.dir, mode);
      run.file_log = lrnn::cli::open_run_log(run.dir.log(), tty);
    } else {
      run.dir = lrnn::RunDir{run.config.output.dir};
      lrnn::cli::log_rank_errors_only(comm.rank());
    }
  });
  return run;
}

// The progress line: on a terminal rewritten every step (and written to train.log 50 times a
// run); otherwise a log line 50 times a run.
std::function<void(const lrnn::StepReport&)> progress(lrnn::cli::ProgressLine& line,
                                                      std::shared_ptr<spdlog::logger> file_log) {
  return [&line, file_log, first_step = std::int64_t{-1}](const lrnn::StepReport& r) mutable {
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
    const std::string text = fmt::format(
        "step {}/{}  loss {:.4f}  acc {:.3f}  |g| {:.3f}  lr {:.2e}{}  {:.2f} steps/s  left {}",
        r.step, r.total_steps, r.loss, r.accuracy, r.grad_norm, r.learning_rate, solver, rate,
        lrnn::cli::format_duration(left));
    const bool periodic =
        r.step % std::max<std::int64_t>(1, r.total_steps / 50) == 0 || r.step == r.total_steps;
    if (line.tty()) {
      line.show(text);
      if (periodic) file_log->info("{}", text);
    } else if (periodic) {
      spdlog::info("{}", text);
    }
  };
}

void log_summary(const lrnn::TrainSummary& s, const lrnn::RunDir& dir) {
  const auto& v = s.final_validation;
  spdlog::info("done: {} steps in {:.1f} s ({:.1f} s in training steps){}", s.steps_done,
               s.wall_time_s, s.step_time_s,
               s.status == lrnn::TrainStatus::kStoppedEarly ? ", stopped early" : "");
  spdlog::info(
      "final validation: loss {:.4f}, accuracy {:.4f} (context 1 {:.4f}, context 2 "
      "{:.4f}); best loss {:.4f} at step {}",
      v.loss, v.accuracy, v.accuracy_ctx[0], v.accuracy_ctx[1], s.best_val_loss, s.best_step);
  spdlog::info("outputs in {}: final.h5{}, metrics.jsonl, checkpoints/", dir.root,
               std::filesystem::exists(dir.best()) ? ", best.h5" : "");
}

}  // namespace

int main(int argc, char** argv) {
  lrnn::CommSession session(argc, argv);
  const lrnn::Comm& comm = session.world();
  const bool root = comm.is_root();
  if (const auto code = lrnn::cli::refuse_bad_launch("lrnn-train")) return *code;
  CLI::App app{
      "Train a low-rank RNN (Mastrogiuseppe & Ostojic 2018) on the contextual switch task.",
      "lrnn-train"};
  Flags flags;
  add_flags(app, flags);
  if (const auto code = lrnn::cli::parse(app, argc, argv, !root)) return *code;

  lrnn::cli::ProgressLine line(lrnn::cli::stderr_is_tty());
  Run run;
  try {
    run = prepare(flags, app.count("--out") > 0, comm, line.tty());
  } catch (const std::exception& e) {
    if (root) std::fprintf(stderr, "lrnn-train: error: %s\n", e.what());
    return 2;
  }

  const lrnn::cli::StopSignals signals;
  lrnn::TrainRunOptions options;
  options.resume = flags.resume;
  options.threads = flags.threads;
  options.stop_requested = signals.flag();
  options.comm = &comm;
  if (root) options.on_step = progress(line, run.file_log);  // rank 0 alone reports progress

  return lrnn::cli::run_main("lrnn-train", comm, lrnn::cli::ErrorStyle::kLog, [&] {
    const lrnn::TrainSummary s = lrnn::train(run.config, run.dir, options);
    if (s.status == lrnn::TrainStatus::kInterrupted) {
      if (root) line.end();
      if (root) spdlog::warn("{}", s.message);
      return signals.exit_code();
    }
    if (!root) return 0;
    line.end();
    log_summary(s, run.dir);
    return 0;
  });
}
