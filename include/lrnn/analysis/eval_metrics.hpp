// The figures of merit lrnn-eval reports (DESIGN.md section 2), computed from ȳ and the trial
// labels alone, so they can be checked on hand-made readouts:
//   - loss and accuracy, overall and per context;
//   - accuracy and P(report +1) per signed coherence of each stimulus, overall and per context;
//   - psychometric curves: in each context, P(report +1) against the signed coherence of stimulus
//     1 and of stimulus 2, with a logistic fit P = σ(β0 + β1 c). For the relevant stimulus the
//     curve is steep; for the irrelevant one it should be flat (β1 ≈ 0);
//   - the agreement of the choice with the sign of the irrelevant stimulus: 0.5 when the network
//     ignores it, 1 when it follows it instead of the context.
// The choice is +1 when sign(ȳ) > 0 (pm1) or σ(ȳ) > 0.5 (binary).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lrnn/analysis/psychometric.hpp"
#include "lrnn/analysis/traces.hpp"
#include "lrnn/config/config.hpp"
#include "lrnn/train/loss.hpp"

namespace lrnn {

/// Accuracy and P(+1) of the trials whose stimulus `stimulus` had one signed coherence.
struct CoherenceBin {
  int stimulus = 1;      ///< 1 or 2
  int context = 0;       ///< 1 or 2, or 0 for all trials
  double coherence = 0;  ///< signed strength (the bin's mean when coherences are binned)
  std::int64_t n = 0;
  double accuracy = 0.0;
  double p_plus = 0.0;
};

struct EvalMetrics {
  LabelType label_type = LabelType::kPm1;
  TaskMetrics task;                             ///< loss, accuracy overall and per context
  std::vector<CoherenceBin> by_coherence;       ///< per stimulus, context (0 = all) and coherence
  std::vector<PsychometricCurve> psychometric;  ///< per context and stimulus (contexts known)
  /// Per context: fraction of trials whose choice has the sign of the irrelevant stimulus (NaN
  /// when the context has no trials or the coherences are unknown).
  double irrelevant_agreement[2] = {0.0, 0.0};
};

/// Options of the coherence grouping.
struct EvalMetricsOptions {
  /// More distinct signed coherences than this (e.g. continuous ones from a trials file) are
  /// grouped into this many quantile bins.
  int max_coherence_bins = 16;
  /// Ridge penalty λ on β1 of the logistic fit, in units of trials: perfectly separated choices
  /// (a noise-free task) then give a large finite slope instead of none.
  double logistic_ridge = 1e-3;
};

/// Whether the trial reports +1.
bool reports_plus(LabelType type, double y_bar);

/// Computes every figure from ȳ, target, context and coherence of `traces`.
EvalMetrics compute_eval_metrics(LabelType type, const TrialTraces& traces,
                                 const EvalMetricsOptions& options = {});

/// Fits P(+1) = σ(β0 + β1 c) by Newton's method on the penalised log-likelihood
/// Σ log p - λ β1² / 2. Returns {β0, β1}.
std::pair<double, double> fit_logistic(const std::vector<double>& c, const std::vector<int>& plus,
                                       double ridge);

}  // namespace lrnn
