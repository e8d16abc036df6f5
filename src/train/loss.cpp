#include "lrnn/train/loss.hpp"

#include <cmath>

namespace lrnn {

double trial_loss(LabelType type, double y_bar, double target, double* dl_dybar) {
  if (type == LabelType::kPm1) {
    const double r = y_bar - target;
    if (dl_dybar) *dl_dybar = 2.0 * r;
    return r * r;
  }
  // log(1 + e^y) computed without overflow for large |y|.
  const double softplus =
      y_bar > 0 ? y_bar + std::log1p(std::exp(-y_bar)) : std::log1p(std::exp(y_bar));
  if (dl_dybar) *dl_dybar = 1.0 / (1.0 + std::exp(-y_bar)) - target;
  return softplus - target * y_bar;
}

bool trial_correct(LabelType type, double y_bar, double target) {
  if (type == LabelType::kPm1) return (y_bar > 0.0 ? 1.0 : -1.0) == target;
  // sigmoid(ȳ) > 0.5  <=>  ȳ > 0
  return (y_bar > 0.0 ? 1.0 : 0.0) == target;
}

template <typename Scalar>
double batch_loss(LabelType type, const VecX<Scalar>& y_bar, const VecX<Scalar>& target,
                  double n_total, VecX<Scalar>* dL_dybar) {
  if (dL_dybar) dL_dybar->resize(y_bar.size());
  double sum = 0.0;
  for (Index j = 0; j < y_bar.size(); ++j) {
    double dl = 0.0;
    sum += trial_loss(type, static_cast<double>(y_bar[j]), static_cast<double>(target[j]), &dl);
    if (dL_dybar) (*dL_dybar)[j] = static_cast<Scalar>(dl / n_total);
  }
  return sum / n_total;
}

template <typename Scalar>
void MetricsAccumulator::add(const VecX<Scalar>& y_bar, const VecX<Scalar>& target,
                             const std::vector<int>& context) {
  for (Index j = 0; j < y_bar.size(); ++j) {
    const double y = static_cast<double>(y_bar[j]);
    const double t = static_cast<double>(target[j]);
    loss_sum_ += trial_loss(type_, y, t, nullptr);
    const bool ok = trial_correct(type_, y, t);
    ++n_;
    correct_ += ok;
    const int c = context[static_cast<std::size_t>(j)];
    if (c == 1 || c == 2) {
      ++n_ctx_[c - 1];
      correct_ctx_[c - 1] += ok;
    }
  }
}

void MetricsAccumulator::merge(const MetricsAccumulator& o) {
  loss_sum_ += o.loss_sum_;
  n_ += o.n_;
  correct_ += o.correct_;
  for (int c = 0; c < 2; ++c) {
    n_ctx_[c] += o.n_ctx_[c];
    correct_ctx_[c] += o.correct_ctx_[c];
  }
}

void MetricsAccumulator::pack(double* out) const {
  const std::int64_t counts[6] = {n_,        correct_,        n_ctx_[0],
                                  n_ctx_[1], correct_ctx_[0], correct_ctx_[1]};
  out[0] = loss_sum_;
  for (int i = 0; i < 6; ++i) out[i + 1] = static_cast<double>(counts[i]);
}

void MetricsAccumulator::unpack(const double* in) {
  loss_sum_ = in[0];
  std::int64_t* counts[6] = {&n_,        &correct_,        &n_ctx_[0],
                             &n_ctx_[1], &correct_ctx_[0], &correct_ctx_[1]};
  for (int i = 0; i < 6; ++i) *counts[i] = static_cast<std::int64_t>(in[i + 1]);
}

TaskMetrics MetricsAccumulator::result() const {
  TaskMetrics m;
  m.n = n_;
  if (n_ == 0) return m;
  m.loss = loss_sum_ / static_cast<double>(n_);
  m.accuracy = static_cast<double>(correct_) / static_cast<double>(n_);
  for (int c = 0; c < 2; ++c) {
    m.n_ctx[c] = n_ctx_[c];
    m.accuracy_ctx[c] =
        n_ctx_[c] ? static_cast<double>(correct_ctx_[c]) / static_cast<double>(n_ctx_[c]) : 0.0;
  }
  return m;
}

template double batch_loss<float>(LabelType, const VecX<float>&, const VecX<float>&, double,
                                  VecX<float>*);
template double batch_loss<double>(LabelType, const VecX<double>&, const VecX<double>&, double,
                                   VecX<double>*);
template void MetricsAccumulator::add<float>(const VecX<float>&, const VecX<float>&,
                                             const std::vector<int>&);
template void MetricsAccumulator::add<double>(const VecX<double>&, const VecX<double>&,
                                              const std::vector<int>&);

}  // namespace lrnn
