// lrnn-sweep CONFIG.yaml --seeds 0:99 [--grid key.path=v1,v2,...]... [--set key.path=value]...
//            [--out DIR] [--threads N] [--rerun] [--collect] [--no-summary]
// Independent trainings over seeds and a grid of config values, spread over MPI ranks when
// started by mpirun or srun (built with LRNN_WITH_MPI), one after another otherwise. Each run is a
// run directory under DIR; rank 0 writes DIR/sweep.csv and DIR/sweep.svg.
// Exit codes: 0 every run finished (ok or diverged); 1 a run failed or is missing, or the sweep
// files could not be written; 2 bad usage or config; 130 / 143 interrupted.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "lrnn/core/comm.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/workflows/sweep.hpp"

namespace {

struct Flags {
  std::string seeds = "0";
  std::vector<std::string> grid;
  bool no_summary = false;
};

void add_flags(CLI::App& app, lrnn::SweepOptions& options, Flags& f) {
  app.add_option("config", options.config_path, "YAML config (see configs/sanity.yaml)")
      ->required();
  app.add_option("--seeds", f.seeds,
                 "training.seed of the runs: 7, 0:99 (both ends included), or a list 0:9,20")
      ->type_name("LIST");
  app.add_option("--grid", f.grid,
                 "a grid axis, e.g. --grid rnn.R=1,2,3 (repeat for a Cartesian product)")
      ->type_name("KEY=V1,V2");
  app.add_option("--set", options.overrides, "override a config key in every run")
      ->type_name("KEY=VALUE");
  app.add_option("--out", options.out, "sweep directory (default: <output.dir>_sweep)");
  app.add_option("--threads", options.threads,
                 "threads per run (default: training.threads, else the cores / ranks per node)")
      ->check(lrnn::cli::positive());
  app.add_flag("--rerun", options.rerun,
               "train runs again that a record says finished (by default they are reused)");
  app.add_flag("--collect", options.collect,
               "train nothing: write sweep.csv and sweep.svg from the runs already in the sweep "
               "directory (after a Slurm job array)");
  app.add_flag("--no-summary", f.no_summary,
               "write the runs only, not sweep.csv and sweep.svg (one task of a job array)");
  app.footer(
      "Runs: the product of the --grid axes (first slowest) times --seeds; with MPI, rank r of P\n"
      "trains runs r, r+P, ... Each run writes <out>/<point>_seed<k>/ as lrnn-train does, plus\n"
      "sweep_run.json; a run whose record says it finished is reused.\n"
      "Exit codes: 0 every run finished (ok or diverged); 1 a run failed or is missing;\n"
      "2 bad usage or config; 130/143 interrupted.");
}

// Rank 0 logs; the other ranks print their own run lines and errors.
void set_up_logging(const lrnn::Comm& comm) {
  auto console = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  console->set_pattern(comm.size() > 1
                           ? fmt::format("[%Y-%m-%d %H:%M:%S] [rank {}] %v", comm.rank())
                           : std::string("[%Y-%m-%d %H:%M:%S] %v"));
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("lrnn-sweep", console));
}

void log_run(const lrnn::SweepRun& run, const lrnn::SweepRecord& r) {
  std::string what = lrnn::to_string(r.status);
  if (r.status == lrnn::RunStatus::kOk) {
    what += fmt::format(
        ", validation accuracy {:.3f} (context 1 {:.3f}, context 2 {:.3f}), "
        "loss {:.4f}",
        r.val_accuracy, r.val_accuracy_ctx1, r.val_accuracy_ctx2, r.val_loss);
  } else if (!r.message.empty()) {
    what += ": " + r.message;
  }
  spdlog::info("run {} {}: {}{}", run.index, run.name, what,
               r.reused ? " (reused)" : fmt::format(", {:.1f} s", r.wall_time_s));
}

// Rank 0's report of the whole sweep; its exit code.
int report(const lrnn::SweepOptions& options, const lrnn::SweepSummary& s,
           const lrnn::cli::StopSignals& signals) {
  for (const auto& line : lrnn::sweep_report(options.grid, s.runs, s.records)) {
    spdlog::info("{}", line);
  }
  if (!s.csv.empty()) spdlog::info("wrote {} and {}", s.csv, s.svg);
  spdlog::info("{} runs in {:.1f} s wall", s.n_runs, s.wall_time_s);
  if (s.interrupted) return signals.exit_code();
  for (const auto& r : s.records) {
    if (r.status != lrnn::RunStatus::kOk && r.status != lrnn::RunStatus::kDiverged) return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  lrnn::CommSession session(argc, argv);
  const lrnn::Comm& comm = session.world();
  const bool root = comm.is_root();
  if (const auto code = lrnn::cli::refuse_bad_launch("lrnn-sweep")) return *code;
  CLI::App app{
      "Train many low-rank RNNs: one config over seeds and a grid of key values, each run into "
      "its own run directory, with a table (sweep.csv) and a figure (sweep.svg) of the results.",
      "lrnn-sweep"};
  lrnn::SweepOptions options;
  Flags flags;
  add_flags(app, options, flags);
  if (const auto code = lrnn::cli::parse(app, argc, argv, !root)) return *code;
  options.write_summary = !flags.no_summary;
  set_up_logging(comm);
  try {
    options.seeds = lrnn::parse_seeds(flags.seeds);
    for (const auto& g : flags.grid) options.grid.push_back(lrnn::parse_grid_axis(g));
  } catch (const lrnn::Error& e) {
    return root ? lrnn::cli::fail("lrnn-sweep", 2, e.what()) : 2;
  }

  const lrnn::cli::StopSignals signals;
  options.stop_requested = signals.flag();
  if (root) {
    spdlog::info("sweep of {}: {} seeds{} on {} {}", options.config_path, options.seeds.size(),
                 options.grid.empty() ? "" : fmt::format(" x {} grid axes", options.grid.size()),
                 comm.size(), comm.size() == 1 ? "process" : "ranks");
  }
  return lrnn::cli::run_main("lrnn-sweep", comm, lrnn::cli::ErrorStyle::kLine, [&] {
    const lrnn::SweepSummary s = lrnn::run_sweep(options, comm, log_run);
    if (s.interrupted) spdlog::warn("interrupted: the runs not finished are marked in sweep.csv");
    if (!root) return s.interrupted ? signals.exit_code() : 0;
    return report(options, s, signals);
  });
}
