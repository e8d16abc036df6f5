// The training loop of DESIGN.md section 4: Adam on the window loss over batches of generated
// trials, validation, checkpoints, metrics.jsonl, and exact resume.
//
// Run directory: config.yaml, metrics.jsonl, train.log (written by the app's logger),
// checkpoints/step_NNNNNN.h5 (step_000000.h5 is the untrained network), best.h5 (lowest validation
// loss), final.h5.
//
// Data parallel over the ranks of a communicator (TrainRunOptions::comm): every rank runs the same
// loop on the same config, solves its share of each batch's blocks (BatchGradient), receives the
// summed gradient from one allreduce per step and takes the same Adam step, so all ranks hold the
// same parameters. Rank 0 alone writes the run directory. The stop flag travels in the step's
// allreduce, so all ranks stop after the same step; the parameters of the ranks are compared by
// checksum at every validation, and a difference ends the run on every rank.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/comm.hpp"
#include "lrnn/integrate/gradient_method.hpp"
#include "lrnn/task/trial_source.hpp"
#include "lrnn/train/loss.hpp"

namespace lrnn {

/// Paths of a run directory.
struct RunDir {
  std::string root;
  std::string config() const { return root + "/config.yaml"; }
  std::string metrics() const { return root + "/metrics.jsonl"; }
  std::string log() const { return root + "/train.log"; }
  std::string checkpoints() const { return root + "/checkpoints"; }
  std::string step_checkpoint(std::int64_t step) const;
  std::string best() const { return root + "/best.h5"; }
  std::string final() const { return root + "/final.h5"; }
};

/// What to do with a run directory that already holds a run.
enum class RunDirMode {
  kNew,        ///< refuse it (InputError): a finished run's checkpoints are never overwritten
  kResume,     ///< keep it: --resume continues the run there
  kOverwrite,  ///< delete the earlier run's files (config, metrics, log, checkpoints) first
};

/// Creates the run directory and checkpoints/, and proves they can be written (before any
/// training starts). Throws IoError naming the directory if it cannot be written, InputError if
/// it holds a run and mode is kNew.
RunDir prepare_run_dir(const std::string& dir, RunDirMode mode = RunDirMode::kNew);

/// What the trainer reports after each step (for progress lines).
struct StepReport {
  std::int64_t step = 0;  ///< steps done, 1-based
  std::int64_t total_steps = 0;
  double loss = 0.0;       ///< training batch loss
  double accuracy = 0.0;   ///< training batch accuracy
  double grad_norm = 0.0;  ///< before clipping
  double learning_rate = 0.0;
  double step_time_s = 0.0;  ///< wall seconds of this step
  double elapsed_s = 0.0;    ///< wall seconds since the run (or resume) started
  bool skipped = false;      ///< dropped by on_nan: skip
  bool has_validation = false;
  TaskMetrics validation;
  SolveStats stats;
};

struct TrainRunOptions {
  std::string resume;  ///< checkpoint to continue from; empty for a fresh run
  int threads = 0;     ///< 0: training.threads, and if that is 0 too, all cores
  /// When it becomes true the trainer writes a checkpoint and returns. Alone, it is polled once per
  /// time step of every solve: a request abandons the step under way, training or validation
  /// (the checkpoint is of the step before, which a resume takes again, bit for bit), so the
  /// trainer stops within milliseconds plus the checkpoint write. Over several ranks it is polled
  /// between steps, and a request on any rank stops every rank, one or two steps later.
  const std::atomic<bool>* stop_requested = nullptr;
  std::function<void(const StepReport&)> on_step;  ///< called after every step, on every rank
  /// Trials to train and validate on instead of the config's generator (not owned). Its grid
  /// must match the config's (K = T / dt steps, rnn.d_in channels).
  const TrialSource* trials = nullptr;
  /// The ranks that train this network together (not owned); null: this process alone. Every
  /// rank calls train() with the same config; rank 0 writes the run directory.
  const Comm* comm = nullptr;
};

enum class TrainStatus {
  kCompleted,     ///< all training.total_steps() steps taken
  kStoppedEarly,  ///< the stop rule (training.stop_at_val_accuracy, stop_patience) was met first
  kInterrupted,   ///< a stop request; resume from last_checkpoint
};

struct TrainSummary {
  TrainStatus status = TrainStatus::kCompleted;
  std::string message;
  std::int64_t steps_done = 0;
  std::int64_t total_steps = 0;
  double wall_time_s = 0.0;  ///< whole run, including validation and checkpoints
  double step_time_s = 0.0;  ///< of which the training steps themselves
  TaskMetrics final_validation;
  double best_val_loss = 0.0;
  std::int64_t best_step = -1;
  std::int64_t nan_skips = 0;
  std::string last_checkpoint;
};

/// Trains from `config` into `run_dir`. Throws ConfigError for a bad config, InputError for a
/// --resume checkpoint that cannot be used or does not match the config, IoError when a file cannot
/// be written during the run, and NumericalError when the loss or gradient turns NaN/Inf with
/// training.on_nan = stop (after writing a checkpoint of the last good parameters). Errors that all
/// ranks meet together (a config or --resume that differs between ranks, a failed start, NaN,
/// ranks whose parameters differ) carry the Collective mark of core/comm.hpp.
TrainSummary train(const Config& config, const RunDir& run_dir, const TrainRunOptions& options);

/// The order in which epoch `epoch` visits training trials 0 .. n_trials-1: a random permutation
/// keyed by (seed, epoch). With `balanced`, the shuffled trials are then dealt round-robin from one
/// queue per source.condition(), so every batch holds each condition about equally often. In the
/// noise-free task the 8 conditions are the whole data set, and a batch that happens to miss one
/// pulls the network away from it.
std::vector<std::int64_t> training_order(const TrialSource& source, std::uint64_t seed,
                                         std::int64_t epoch, std::int64_t n_trials, bool balanced);

/// The number of threads a run uses: requested, else the cores this process may run on (its CPU
/// affinity), at most the node's cores divided among the comm's ranks on the node.
int resolve_threads(int requested, const Comm& comm = serial_comm());

}  // namespace lrnn
