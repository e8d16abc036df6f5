// Step-size control for an embedded pair (Hairer, Nørsett & Wanner I, II.4, eqs. 4.11-4.13): the
// error E of a step from X0 to X1 is measured in the batch-wide RMS norm
//
//   err = sqrt( (1 / (rows B)) Σ_ij ( E_ij / (atol + rtol max(|X0_ij|, |X1_ij|)) )² ),
//
// the step is accepted if err <= 1, and the next step is
//
//   h_new = h min(grow_max, max(shrink_min, safety err^(-1/5))).
//
// The exponent 1/5 = 1/(q + 1) with q = 4, the order of the embedded solution whose local error E
// estimates. The whole batch shares one step size (DESIGN.md section 3), so the norm runs over
// every trial: one hard trial slows the batch down, never the other way round.
#pragma once

#include "lrnn/core/types.hpp"

namespace lrnn {

struct StepControllerOptions {
  double rtol = 1e-6;       ///< integrator.rtol: relative tolerance, > 0
  double atol = 1e-8;       ///< integrator.atol: absolute tolerance (state units), > 0
  double safety = 0.9;      ///< aims below err = 1 so the next step is rarely rejected, (0, 1]
  double grow_max = 5.0;    ///< largest h_new / h: one smooth stretch cannot overshoot, > 1
  double shrink_min = 0.2;  ///< smallest h_new / h: a bad step does not collapse h, (0, 1)
  double dt_min = 1e-8;     ///< integrator.dt_min: smallest h (model time) before failing, > 0
  bool hold_after_reject = true;  ///< no growth right after a rejection (Hairer's facmax = 1)
};

/// The controller's verdict on one step.
struct StepDecision {
  bool accept = false;
  double h_next = 0.0;  ///< proposed next step (after a rejection: the retry of this step)
};

class StepController {
 public:
  /// Throws ConfigError naming the field when an option is out of its range.
  explicit StepController(const StepControllerOptions& options = {});

  const StepControllerOptions& options() const { return options_; }

  /// The RMS error norm above; NaN or Inf if E or the states are not finite.
  template <typename Scalar>
  double error_norm(const MatX<Scalar>& E, const MatX<Scalar>& X0, const MatX<Scalar>& X1) const;

  /// Accepts a step of size h with error norm err (err <= 1; NaN counts as a rejection with the
  /// smallest factor) and proposes the next step. after_reject: the previous attempt was rejected.
  StepDecision decide(double err, double h, bool after_reject) const;

 private:
  StepControllerOptions options_;
};

}  // namespace lrnn
