// What `lrnn-inspect --fixed-points` and `--truncate r` do, as one library call: the constant
// inputs of the task's conditions (or one given input), their fixed and slow points
// (analysis/fixed_points.hpp), the table and fixed_points.json in the output directory; the rank-r
// truncation of the network, evaluated (analysis/truncate.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lrnn/analysis/fixed_points.hpp"
#include "lrnn/analysis/mixture.hpp"
#include "lrnn/analysis/truncate.hpp"
#include "lrnn/config/config.hpp"

namespace lrnn {

struct InspectDynamicsOptions {
  bool fixed_points = false;  ///< --fixed-points
  int truncate = 0;           ///< --truncate r: evaluate the rank-r truncation (1..R); 0 = no
  std::int64_t trials = 512;  ///< --trials: test trials for --truncate and --populations, >= 1
  /// --populations P|auto (with --resample K): mixtures with P components, or P = 1..4 with the
  /// lowest BIC marked ("auto"); "" = not asked for.
  std::string populations;
  int resample = 0;           ///< --resample K: networks per P
  std::uint64_t seed = 0;     ///< --seed: key of the resampled networks
  ResampleProgress progress;  ///< after each block of trials of --populations
  /// --input u1,..,u_d_in: one constant input instead of the task's 10 conditions (each context's
  /// cue alone, and cue + each sign pattern of the two stimuli at task.stim_mean_abs).
  std::vector<double> input;
  int starts = 64;      ///< --starts: starts per condition, >= 4
  std::string out_dir;  ///< --out: default inspect_<checkpoint stem> beside the checkpoint
  int threads = 1;      ///< conditions solved in parallel, >= 1
};

struct InspectDynamicsResult {
  std::optional<FixedPointReport> fixed_points;
  std::optional<TruncationReport> truncation;
  std::optional<PopulationReport> populations;
  std::string text;                ///< the tables
  std::string fixed_points_json;   ///< fixed_points.json's content ("" without --fixed-points)
  std::string truncation_json;     ///< "" without --truncate
  std::string populations_json;    ///< "" without --populations
  std::vector<std::string> files;  ///< every file written
};

/// The 10 conditions of the contextual switch task described by `task` (needs d_in = 4): per
/// context, "ctxK cue" (the cue alone for T_burn + T_stim) and "ctxK s1± s2±" (the cue for
/// T_burn, then cue and stimuli held for T_stim), with the correct readout sign as target.
std::vector<ConstantInput> task_conditions(const TaskOptions& task);

/// Runs the analyses asked for on `net` (the checkpoint's, in double) and writes
/// fixed_points.json. Throws InputError for a bad option (wrong --input length, a task without 4
/// inputs, r out of 1..R, a --populations that is neither a count in 1..16 nor "auto"), IoError
/// when the output cannot be written, NumericalError when a solve fails.
InspectDynamicsResult inspect_dynamics(const std::string& checkpoint_path,
                                       const Network<double>& net, const Config& config,
                                       const InspectDynamicsOptions& options);

}  // namespace lrnn
