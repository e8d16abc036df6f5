// One optimizer step of a training run, the same in the trainer and the benchmark: the gradient
// of the weight decay, global-norm clipping, then Adam, all on the trained groups only
// (DESIGN.md section 4).
#pragma once

#include "lrnn/model/params.hpp"
#include "lrnn/optim/adam.hpp"
#include "lrnn/optim/training_options.hpp"

namespace lrnn {

struct OptimizerStepResult {
  double penalty = 0.0;    ///< λ‖θ‖² over the trained groups, to add to the loss
  double grad_norm = 0.0;  ///< of the loss-plus-penalty gradient, before clipping
};

/// Adds the gradient of training.weight_decay λ‖θ‖² to `grad`, clips `grad` to training.grad_clip,
/// and takes one Adam step of `theta` at `learning_rate`, all over `mask`'s groups. `grad` is
/// changed (the clipped gradient that was applied).
template <typename Scalar>
OptimizerStepResult optimizer_step(Params<Scalar>& theta, Params<Scalar>& grad,
                                   AdamState<Scalar>& adam, const TrainingOptions& training,
                                   const GroupMask& mask, double learning_rate);

}  // namespace lrnn
