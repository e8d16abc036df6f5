// What lrnn-eval does, as one library call: load a checkpoint and its config, simulate the test
// trials (generated from the checkpoint's own task, or read from a trials file) with the config's
// integrator or another, and write eval.h5, metrics.json and the figures.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lrnn/analysis/eval_metrics.hpp"
#include "lrnn/config/config.hpp"

namespace lrnn {

struct EvalOptions {
  std::int64_t n_trials = 2000;           ///< --trials: generated test trials, >= 1
  std::optional<Method> integrator;       ///< --integrator: instead of the config's
  std::vector<double> coherences;         ///< --coherences: instead of task.coherences (> 0 each)
  std::optional<double> noise_std;        ///< --noise-std: instead of rnn.noise_std (>= 0)
  std::optional<double> input_noise_std;  ///< --input-noise-std: instead of task.input_noise_std
  std::optional<double> stim_std;         ///< --stim-std: instead of task.stim_std
  std::string trials_file;                ///< --trials-file: evaluate these trials instead
  std::string out_dir;                    ///< --out: default the checkpoint's directory
  int threads = 0;                        ///< --threads: 0 = all cores
  bool figures = true;                    ///< write the SVG figures
  /// Training curves come from this metrics.jsonl; empty: looked up beside the checkpoint (its
  /// directory, or the run directory above checkpoints/).
  std::string metrics_jsonl;
  std::function<void(Index done, Index total)> progress;  ///< after each block of trials
};

struct EvalSummary {
  EvalMetrics metrics;
  Config config;                   ///< the checkpoint's config, with the overrides applied
  std::string trials;              ///< where the trials came from
  std::vector<std::string> files;  ///< every file written
  double simulate_s = 0.0;         ///< wall seconds simulating
  std::string metrics_json;        ///< what metrics.json holds
};

/// The checkpoint's resolved config (the config_yaml attribute). Throws InputError if it does not
/// parse.
Config checkpoint_config(const std::string& checkpoint_path);

/// The metrics.jsonl of the run a checkpoint belongs to, or "" if there is none.
std::string find_run_metrics(const std::string& checkpoint_path);

/// Runs the evaluation. Throws InputError for a bad checkpoint, trials file or option (exit 2),
/// IoError when an output cannot be written, NumericalError when a solve fails.
EvalSummary evaluate_checkpoint(const std::string& checkpoint_path, const EvalOptions& options);

}  // namespace lrnn
