// The interface every integrator/gradient pair implements (diffrax's adjoint objects; DESIGN.md
// section 3). A method solves a block of trials from x(0) = 0, returns the loss-window average ȳ of
// each trial, and, given dL/dȳ, adds dL/dθ for every parameter group. The loss itself is not the
// method's business: it only ever needs dL/dȳ.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>

#include "lrnn/core/errors.hpp"
#include "lrnn/integrate/bulk_mode.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/time_grid.hpp"
#include "lrnn/task/trial_batch.hpp"

namespace lrnn {

struct IntegratorOptions;

/// Work counts of the last solve, forward and backward.
struct SolveStats {
  std::int64_t steps_accepted = 0;  ///< time steps taken forward
  std::int64_t steps_rejected = 0;  ///< rejected adaptive steps (0 for Euler)
  std::int64_t rhs_forward = 0;     ///< right-hand-side evaluations, forward (per batch)
  std::int64_t rhs_backward = 0;    ///< vector-Jacobian products / RHS evaluations, backward

  /// The larger count of each kind: blocks of one batch solve side by side, so the batch's work
  /// is that of its busiest block.
  void merge_max(const SolveStats& o) {
    steps_accepted = std::max(steps_accepted, o.steps_accepted);
    steps_rejected = std::max(steps_rejected, o.steps_rejected);
    rhs_forward = std::max(rhs_forward, o.rhs_forward);
    rhs_backward = std::max(rhs_backward, o.rhs_backward);
  }
};

template <typename Scalar>
class GradientMethod {
 public:
  virtual ~GradientMethod() = default;

  /// Solves tau dx/dt = -x + J phi(x) + B u for the batch and writes ȳ (one entry per trial).
  /// Keeps what backward() needs for this batch.
  virtual void forward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                       Eigen::Ref<VecX<Scalar>> y_bar) = 0;

  /// Adds dL/dθ to grad for the batch of the last forward(), given dL/dȳ. The network and batch
  /// must be the ones given to forward().
  virtual void backward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                        const Eigen::Ref<const VecX<Scalar>>& dL_dybar, Params<Scalar>& grad) = 0;

  /// Counts of the last forward() and backward().
  virtual SolveStats stats() const = 0;

  /// A flag that forward() and backward() poll once per time step (not owned; null, the default:
  /// never). Once it is set they throw Cancelled and leave no usable result: the next call must
  /// be a forward(). It lets lrnn-train stop within milliseconds on SIGINT however long a step is.
  void set_cancel(const std::atomic<bool>* flag) { cancel_ = flag; }

  /// How the bulk product is computed from the next forward() on (default kNative). kBf16 is for
  /// float solves; a double solve ignores it.
  void set_bulk_mode(BulkMode mode) { bulk_mode_ = mode; }
  BulkMode bulk_mode() const { return bulk_mode_; }

 protected:
  /// Throws Cancelled if the cancel flag is set.
  void poll_cancel() const {
    if (cancel_ != nullptr && cancel_->load(std::memory_order_relaxed)) throw Cancelled();
  }

 private:
  const std::atomic<bool>* cancel_ = nullptr;
  BulkMode bulk_mode_ = BulkMode::kNative;
};

/// The method the config asks for (integrator.method, integrator.gradient).
template <typename Scalar>
std::unique_ptr<GradientMethod<Scalar>> make_gradient_method(const IntegratorOptions& options,
                                                             const TimeGrid& grid);

}  // namespace lrnn
