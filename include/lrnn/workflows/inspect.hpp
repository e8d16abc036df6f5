// What `lrnn-inspect CKPT` does, as one library call: the low-rank structure of a trained network
// (analysis/low_rank.hpp), with `resample` the accuracy of networks resampled from its loadings
// (analysis/resample.hpp), and the dynamics analyses of inspect_dynamics.hpp; and the one JSON
// document of `lrnn-inspect --json`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lrnn/analysis/low_rank.hpp"
#include "lrnn/analysis/resample.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/workflows/inspect_dynamics.hpp"

namespace lrnn {

/// Above this N the O(N³) eigenvalues of J take minutes: skipped unless InspectOptions::eigs.
inline constexpr Index kMaxEigenN = 4000;

struct InspectOptions {
  bool eigs = false;          ///< --eigs: the eigenvalues of J even above kMaxEigenN
  int resample = 0;           ///< --resample K: networks resampled from one Gaussian; 0 = none
  std::int64_t trials = 512;  ///< --trials: test trials per network, >= 1
  int threads = 0;            ///< --threads: 0 = training.threads, else the cores available
  std::uint64_t seed = 0;     ///< --seed: key of the resampled networks
  /// --fixed-points, --truncate, --populations and their options (trials, resample, seed and
  /// threads are taken from the fields above).
  InspectDynamicsOptions dynamics;
  ResampleProgress progress;  ///< after each block of resampled trials
};

/// Whether the options ask for an analysis that needs the checkpoint's config.
bool inspect_needs_config(const InspectOptions& options);

struct Inspection {
  LowRankSummary summary;
  std::optional<ResampleReport> report;
  std::optional<InspectDynamicsResult> dynamics;
};

/// Runs the analyses asked for on the checkpoint `ck` read from `path` (its config parsed into
/// `config` when inspect_needs_config). Throws as inspect_dynamics and evaluate_resampled do.
Inspection inspect_checkpoint(const std::string& path, const LoadedCheckpoint<double>& ck,
                              const Config& config, const InspectOptions& options);

/// The document `lrnn-inspect --json` prints: checkpoint, step, precision, low_rank, and
/// resample, fixed_points, truncate, populations when computed.
std::string inspection_json(const std::string& path, const CheckpointInfo& info,
                            const Inspection& inspection);

}  // namespace lrnn
