#include "lrnn/optim/optimizer_step.hpp"

namespace lrnn {

template <typename Scalar>
OptimizerStepResult optimizer_step(Params<Scalar>& theta, Params<Scalar>& grad,
                                   AdamState<Scalar>& adam, const TrainingOptions& training,
                                   const GroupMask& mask, double learning_rate) {
  OptimizerStepResult out;
  out.penalty = add_weight_decay(theta, grad, mask, training.weight_decay);
  out.grad_norm = clip_grad_norm(grad, mask, training.grad_clip);
  adam_update(theta, grad, adam, training.adam, mask, learning_rate);
  return out;
}

template OptimizerStepResult optimizer_step<float>(Params<float>&, Params<float>&,
                                                   AdamState<float>&, const TrainingOptions&,
                                                   const GroupMask&, double);
template OptimizerStepResult optimizer_step<double>(Params<double>&, Params<double>&,
                                                    AdamState<double>&, const TrainingOptions&,
                                                    const GroupMask&, double);

}  // namespace lrnn
