#include "lrnn/optim/adam.hpp"

#include <cmath>

namespace lrnn {

template <typename Scalar>
double grad_norm(const Params<Scalar>& grad, const GroupMask& mask) {
  double sq = 0.0;
  for (Group g : kAllGroups) {
    if (mask[g]) sq += grad.segment(g).template cast<double>().squaredNorm();
  }
  return std::sqrt(sq);
}

template <typename Scalar>
double clip_grad_norm(Params<Scalar>& grad, const GroupMask& mask, double max_norm) {
  const double norm = grad_norm(grad, mask);
  if (max_norm > 0.0 && norm > max_norm) {
    const auto scale = static_cast<Scalar>(max_norm / norm);
    for (Group g : kAllGroups) {
      if (mask[g]) grad.segment(g) *= scale;
    }
  }
  return norm;
}

template <typename Scalar>
double add_weight_decay(const Params<Scalar>& theta, Params<Scalar>& grad, const GroupMask& mask,
                        double lambda) {
  if (lambda == 0.0) return 0.0;
  double penalty = 0.0;
  for (Group g : kAllGroups) {
    if (!mask[g]) continue;
    penalty += lambda * theta.segment(g).template cast<double>().squaredNorm();
    grad.segment(g) += static_cast<Scalar>(2.0 * lambda) * theta.segment(g);
  }
  return penalty;
}

template <typename Scalar>
void adam_update(Params<Scalar>& theta, const Params<Scalar>& grad, AdamState<Scalar>& state,
                 const AdamOptions& o, const GroupMask& mask, double learning_rate) {
  const Index size = theta.layout().total();
  if (state.m.size() != size) state = AdamState<Scalar>(size);
  state.step += 1;
  const double t = static_cast<double>(state.step);
  const auto b1 = static_cast<Scalar>(o.beta1);
  const auto b2 = static_cast<Scalar>(o.beta2);
  const auto c1 = static_cast<Scalar>(1.0 / (1.0 - std::pow(o.beta1, t)));
  const auto c2 = static_cast<Scalar>(1.0 / (1.0 - std::pow(o.beta2, t)));
  const auto lr = static_cast<Scalar>(learning_rate);
  const auto eps = static_cast<Scalar>(o.eps);
  for (Group g : kAllGroups) {
    if (!mask[g]) continue;
    const Index off = theta.layout().offset(g);
    const Index len = theta.layout().size(g);
    auto m = state.m.segment(off, len).array();
    auto v = state.v.segment(off, len).array();
    const auto gr = grad.flat().segment(off, len).array();
    m = b1 * m + (Scalar(1) - b1) * gr;
    v = b2 * v + (Scalar(1) - b2) * gr.square();
    theta.flat().segment(off, len).array() -= lr * (m * c1) / ((v * c2).sqrt() + eps);
  }
}

#define LRNN_INSTANTIATE(S)                                                                     \
  template double grad_norm<S>(const Params<S>&, const GroupMask&);                             \
  template double clip_grad_norm<S>(Params<S>&, const GroupMask&, double);                      \
  template double add_weight_decay<S>(const Params<S>&, Params<S>&, const GroupMask&, double);  \
  template void adam_update<S>(Params<S>&, const Params<S>&, AdamState<S>&, const AdamOptions&, \
                               const GroupMask&, double);
LRNN_INSTANTIATE(float)
LRNN_INSTANTIATE(double)
#undef LRNN_INSTANTIATE

}  // namespace lrnn
