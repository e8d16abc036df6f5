// The window loss and accuracy of DESIGN.md section 2, as functions of ȳ (the average readout over
// the loss window) only.
//   pm1:    l = (ȳ - target)²,                       correct = sign(ȳ) == target
//   binary: l = log(1 + e^ȳ) - target ȳ (ȳ a logit), correct = (sigmoid(ȳ) > 0.5) == target
#pragma once

#include <cstdint>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/types.hpp"

namespace lrnn {

/// Per-trial loss l(ȳ, target) and its derivative dl/dȳ.
double trial_loss(LabelType type, double y_bar, double target, double* dl_dybar);

/// Whether the trial counts as correct.
bool trial_correct(LabelType type, double y_bar, double target);

/// Σ_j l(ȳ_j, target_j) / n_total, and dL/dȳ_j = l'(ȳ_j) / n_total when dL_dybar is given.
/// n_total is the size of the whole batch, which may span several blocks, threads or ranks.
template <typename Scalar>
double batch_loss(LabelType type, const VecX<Scalar>& y_bar, const VecX<Scalar>& target,
                  double n_total, VecX<Scalar>* dL_dybar);

/// Loss and accuracy overall and per context.
struct TaskMetrics {
  double loss = 0.0;
  double accuracy = 0.0;
  double accuracy_ctx[2] = {0.0, 0.0};  ///< context 1, context 2
  std::int64_t n = 0;
  std::int64_t n_ctx[2] = {0, 0};
};

/// Sums loss and correct counts over blocks of trials.
class MetricsAccumulator {
 public:
  explicit MetricsAccumulator(LabelType type) : type_(type) {}
  template <typename Scalar>
  void add(const VecX<Scalar>& y_bar, const VecX<Scalar>& target, const std::vector<int>& context);
  void merge(const MetricsAccumulator& other);
  TaskMetrics result() const;

  /// The sums as kPackedSize doubles, for a sum over ranks (counts stay exact up to 2^53), and
  /// back: unpack(pack()) is the identity.
  static constexpr int kPackedSize = 7;
  void pack(double* out) const;
  void unpack(const double* in);

 private:
  LabelType type_;
  double loss_sum_ = 0.0;
  std::int64_t n_ = 0;
  std::int64_t correct_ = 0;
  std::int64_t n_ctx_[2] = {0, 0};
  std::int64_t correct_ctx_[2] = {0, 0};
};

}  // namespace lrnn
