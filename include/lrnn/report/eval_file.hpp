// eval.h5, the evaluation file of lrnn-eval (DESIGN.md section 5), readable with h5py and MATLAB:
//   /trials/u          trials x K x d_in  the exact inputs u_0 .. u_{K-1} of each trial
//   /trials/y          trials x K         readout y(t_k) at the observation times t_1 .. t_K
//   /trials/y_bar      trials             loss-window average ȳ (what the choice and loss use)
//   /trials/label      trials             target: ±1 (pm1) or {0, 1} (binary)
//   /trials/choice     trials             the reported sign: +1 or -1
//   /trials/context    trials             1 or 2 (0 if unknown)
//   /trials/coherence  trials x 2         signed strength of stimulus 1 and 2
//   /trials/kappa      trials x K x R     latent variables κ_r(t_k) = n_rᵀ tanh(x(t_k)) / N
//   /time              K                  the observation times t_1 .. t_K
//   attributes on /: format_version, checkpoint, step, integrator, precision, label_type, loss,
//                    accuracy, accuracy_ctx1, accuracy_ctx2, config_yaml, lrnn_version
// The large datasets are chunked and deflated (u is piecewise constant and shrinks ~100x).
// /trials holds a valid trials file: `lrnn-eval --trials-file eval.h5` replays the same trials.
#pragma once

#include <cstdint>
#include <string>

#include "lrnn/analysis/eval_metrics.hpp"
#include "lrnn/analysis/traces.hpp"

namespace lrnn {

inline constexpr int kEvalFormatVersion = 1;

/// Where the numbers came from, stored as attributes.
struct EvalFileMeta {
  std::string checkpoint;   ///< path of the evaluated checkpoint
  std::int64_t step = 0;    ///< its training step
  std::string integrator;   ///< euler | rk45
  std::string precision;    ///< float32 | float64
  std::string trials;       ///< "generated (seed S, test split)" or the trials file's path
  std::string config_yaml;  ///< the resolved config the trials and network came from
};

/// Writes eval.h5 atomically. Throws IoError naming the file on failure.
void write_eval_file(const std::string& path, const TrialTraces& traces, const EvalMetrics& metrics,
                     const EvalFileMeta& meta);

}  // namespace lrnn
