// Adam (Kingma & Ba 2015) on the flat parameter vector, with per-group freezing, global-norm
// gradient clipping and L2 weight decay. All three act only on the trained groups.
#pragma once

#include <cstdint>

#include "lrnn/model/params.hpp"

namespace lrnn {

struct AdamOptions {
  double beta1 = 0.9;    ///< training.adam_beta1: first-moment decay, in [0, 1)
  double beta2 = 0.999;  ///< training.adam_beta2: second-moment decay, in [0, 1)
  double eps = 1e-8;     ///< training.adam_eps: added to sqrt(v̂), > 0
};

/// Moments and step count: everything an exact resume needs.
template <typename Scalar>
struct AdamState {
  VecX<Scalar> m;         ///< first moment, same layout as theta
  VecX<Scalar> v;         ///< second moment
  std::int64_t step = 0;  ///< updates taken

  explicit AdamState(Index size = 0) : m(VecX<Scalar>::Zero(size)), v(VecX<Scalar>::Zero(size)) {}
};

/// Euclidean norm of the trained groups of g.
template <typename Scalar>
double grad_norm(const Params<Scalar>& grad, const GroupMask& mask);

/// Scales g in place so that its norm over the trained groups is at most max_norm (0: no clip).
/// Returns the norm before clipping.
template <typename Scalar>
double clip_grad_norm(Params<Scalar>& grad, const GroupMask& mask, double max_norm);

/// Adds the gradient of λ‖θ‖² (2λθ) over trained groups; returns λ‖θ‖² for the loss.
template <typename Scalar>
double add_weight_decay(const Params<Scalar>& theta, Params<Scalar>& grad, const GroupMask& mask,
                        double lambda);

/// One Adam update of the trained groups:
///   m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;  θ -= lr m̂ / (sqrt(v̂) + eps),
/// with m̂ = m / (1 - β1^t), v̂ = v / (1 - β2^t), t = step + 1.
template <typename Scalar>
void adam_update(Params<Scalar>& theta, const Params<Scalar>& grad, AdamState<Scalar>& state,
                 const AdamOptions& options, const GroupMask& mask, double learning_rate);

}  // namespace lrnn
