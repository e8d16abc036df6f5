// Sweeps: many independent trainings of one config, over seeds and a grid of overridden keys,
// spread over the ranks of a communicator (or one after another in one process).
//
//   lrnn-sweep configs/sanity.yaml --seeds 0:19 --grid rnn.R=1,2 --out sweeps/R
//
// The runs are the Cartesian product of the grid axes (first axis slowest) times the seeds, in
// that order; rank r of P trains runs r, r + P, r + 2P, ... Each run is a normal run directory
// <out>/<point>_seed<k>/ (config.yaml, metrics.jsonl, checkpoints, train.log) plus sweep_run.json,
// its record: status, final validation loss and accuracies, wall time. Rank 0 gathers the records
// and writes <out>/sweep.csv (one row per run) and <out>/sweep.svg (accuracy and loss per grid
// point, every seed a point, mean ± s.d.). A run that diverges or fails is a row with its status,
// not the end of the sweep. A run whose record says it finished (ok or diverged: a rerun would
// give the same numbers) is reused, not trained again, so a sweep cut short resumes where it
// stopped. An unfinished run resumes from its newest checkpoint, bit for bit as if never stopped,
// when its record says "interrupted" (a signal: scancel, a time limit, a requeue) or it has no
// record (the process was killed); one that "failed", or whose checkpoints are of another config,
// starts again from its beginning. --rerun starts every run again.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/comm.hpp"

namespace lrnn {

/// One axis of a sweep's grid: a config key path and the values it takes (YAML scalars or flow
/// lists, as after `--set key=`).
struct SweepAxis {
  std::string key;
  std::vector<std::string> values;
};

/// Seeds from "--seeds" text: "7", "0:99" (both ends included), or a comma-separated list of
/// either ("0:9,20,30:32"). Throws ConfigError for a malformed, empty or repeated seed.
std::vector<std::uint64_t> parse_seeds(const std::string& text);

/// An axis from "--grid" text "rnn.R=1,2,3" (values split at commas outside brackets, so
/// "task.coherences=[0.1,0.2],[0.4]" is two values). Throws ConfigError.
SweepAxis parse_grid_axis(const std::string& text);

struct SweepOptions {
  std::string config_path;                 ///< the base config (YAML)
  std::vector<std::string> overrides;      ///< --set key=value: applied to every run
  std::vector<SweepAxis> grid;             ///< --grid: the Cartesian product of these axes
  std::vector<std::uint64_t> seeds = {0};  ///< --seeds: training.seed at every grid point
  std::string out;                         ///< sweep directory; empty: <output.dir>_sweep
  int threads = 0;                         ///< per run; 0: training.threads, else the cores / ranks
  bool rerun = false;                      ///< train finished runs again instead of reusing them
  bool collect = false;                    ///< train nothing: gather the records already in `out`
  bool write_summary = true;               ///< write sweep.csv and sweep.svg on rank 0
  const std::atomic<bool>* stop_requested = nullptr;  ///< polled: ends the current run, no more
};

/// One training of a sweep.
struct SweepRun {
  std::int64_t index = 0;           ///< position: grid point major, seed minor
  std::int64_t point = 0;           ///< grid point, 0 .. product of the axis lengths - 1
  std::vector<std::string> values;  ///< the point's value of each axis
  std::uint64_t seed = 0;
  std::string name;  ///< run directory under `out`: "R=1_g=0.8_seed7", "seed7" without a grid
  Config config;     ///< resolved, output.dir = <out>/<name>
};

/// The runs of a sweep, every config loaded and validated (so that a bad grid value fails before
/// anything trains). Throws ConfigError naming the key, the value and the run.
std::vector<SweepRun> plan_sweep(const SweepOptions& options);

/// How a run of a sweep ended.
enum class RunStatus {
  kOk,           ///< trained to the last step
  kDiverged,     ///< NaN/Inf loss or gradient (training.on_nan)
  kFailed,       ///< any other error: the message says which
  kInterrupted,  ///< stopped by a signal; a checkpoint was written
  kMissing,      ///< not run (the sweep was interrupted, or --collect found no record)
};
const char* to_string(RunStatus s);

/// What sweep.csv holds about a run (numbers NaN when not known).
struct SweepRecord {
  std::int64_t index = 0;
  std::string name;
  std::uint64_t seed = 0;
  RunStatus status = RunStatus::kMissing;
  std::string message;
  std::int64_t steps = 0;
  double train_loss = 0.0;  ///< batch loss of the last step
  double val_loss = 0.0;    ///< final validation
  double val_accuracy = 0.0;
  double val_accuracy_ctx1 = 0.0;
  double val_accuracy_ctx2 = 0.0;
  double best_val_loss = 0.0;
  std::int64_t best_step = -1;
  double wall_time_s = 0.0;  ///< the training alone, seconds
  int rank = -1;             ///< the rank that trained it; -1 if reused or missing
  bool reused = false;       ///< found finished, not trained by this sweep
};

/// A record as one line of JSON (sweep_run.json) and back. from_json throws IoError.
std::string to_json(const SweepRecord& r);
SweepRecord record_from_json(const std::string& text, const std::string& source);

struct SweepSummary {
  std::vector<SweepRun> runs;        ///< the plan, on every rank
  std::vector<SweepRecord> records;  ///< all runs in order on rank 0; this rank's own elsewhere
  std::int64_t n_runs = 0;
  bool interrupted = false;  ///< a stop was requested on this rank
  double wall_time_s = 0.0;
  std::string csv;  ///< paths written (rank 0, write_summary)
  std::string svg;
};

/// Trains this rank's runs, then gathers the records on rank 0 and writes sweep.csv and
/// sweep.svg. Collective over `comm`: every rank calls it with the same options (checked).
/// `on_run` is called on the rank that ran (or reused) a run, after it. Throws ConfigError for a
/// bad sweep, IoError when the sweep files cannot be written; a run's own error is its record.
SweepSummary run_sweep(const SweepOptions& options, const Comm& comm,
                       const std::function<void(const SweepRun&, const SweepRecord&)>& on_run = {});

/// sweep.csv: a header, then one row per record: index, name, one column per axis key, seed,
/// status, steps, train_loss, val_loss, val_accuracy, val_accuracy_ctx1, val_accuracy_ctx2,
/// best_val_loss, best_step, wall_time_s, rank, message. Written atomically.
void write_sweep_csv(const std::string& path, const std::vector<SweepAxis>& grid,
                     const std::vector<SweepRun>& runs, const std::vector<SweepRecord>& records);

/// sweep.svg: final validation accuracy (left) and loss (right, log) per grid point, every seed a
/// grey point; in colour the mean ± s.d. of the accuracy and the geometric mean ×/÷ geometric
/// s.d. of the loss, over the runs that finished.
void plot_sweep(const std::string& path, const std::string& title,
                const std::vector<SweepAxis>& grid, const std::vector<SweepRun>& runs,
                const std::vector<SweepRecord>& records);

/// Lines for a terminal: per grid point, runs finished of all, accuracy mean ± s.d. and range,
/// loss geometric mean and range; then the count of runs of each other status.
std::vector<std::string> sweep_report(const std::vector<SweepAxis>& grid,
                                      const std::vector<SweepRun>& runs,
                                      const std::vector<SweepRecord>& records);

}  // namespace lrnn
