// The loop of an adaptive Dormand–Prince solve (diffrax's diffeqsolve, Odeint's
// integrate_adaptive): it owns the state, the FSAL derivative, the stop times and max_steps; the
// step is Dopri5's and the step size the StepController's.
//
// Stop times are the times where the right-hand side may jump (input changes, the opening of the
// loss window). The driver never steps across one: a step that would pass it is clipped to land on
// it exactly, its last stages see the left limit (Side::kLeft), and the derivative that starts the
// next step is evaluated afresh at the right limit instead of reusing k7 (FSAL does not hold
// across a jump). A solve with a stop at s is therefore the same computation as two solves,
// [t0, s] and [s, t1], the second started with h0 = the first's h_next.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "lrnn/integrate/dopri5.hpp"
#include "lrnn/integrate/step_controller.hpp"

namespace lrnn {

struct IntegratorOptions;

struct AdaptiveDriverOptions {
  RkScheme scheme = RkScheme::kDopri5;  ///< the 5(4) pair: integrator.method rk45 or tsit5
  StepControllerOptions control;        ///< tolerances, clamps, dt_min
  /// First step (model time); 0 picks it from the problem (Hairer I, II.4 "starting step size",
  /// one extra right-hand-side evaluation). >= 0.
  double h0 = 0.0;
  /// integrator.max_steps: attempted steps (accepted + rejected) per solve before failing, >= 1.
  /// Rejections count so that a solve whose steps are all rejected cannot run for ever.
  std::int64_t max_steps = 100000;
};

/// The driver's options from the config's integrator section (method, rtol, atol, dt_min,
/// max_steps).
AdaptiveDriverOptions driver_options(const IntegratorOptions& integrator);

enum class SolveStatus {
  kSuccess,            ///< reached t1
  kMaxStepsExceeded,   ///< max_steps attempts before t1
  kStepSizeUnderflow,  ///< the controller asked for h < dt_min (stiffness, a singularity, NaN)
};
const char* to_string(SolveStatus s);

/// How a solve ended, and its work (Ceres's Summary).
struct SolveResult {
  SolveStatus status = SolveStatus::kSuccess;
  std::string message;  ///< empty on success; else names t and why
  double t = 0.0;       ///< time reached (t1 on success); the state returned is the one at t
  double h_next = 0.0;  ///< step the controller proposes next (to continue the solve)
  std::int64_t steps_accepted = 0;
  std::int64_t steps_rejected = 0;
  std::int64_t rhs_evals = 0;  ///< right-hand-side evaluations (each on the whole batch)

  bool ok() const { return status == SolveStatus::kSuccess; }
};

/// An accepted step as an observer sees it: the states at both ends and the dense output between.
/// Valid only during the observer call.
template <typename Scalar>
class DenseStep {
 public:
  using Mat = MatX<Scalar>;

  DenseStep(const Dopri5<Scalar>& stepper, double t0, double t1, const Mat& X0, const Mat& X1,
            const Mat& k1, const Mat& k7)
      : stepper_(stepper), t0_(t0), t1_(t1), X0_(X0), X1_(X1), k1_(k1), k7_(k7) {}

  double t0() const { return t0_; }  ///< start of the step
  double t1() const { return t1_; }  ///< end of the step
  double h() const { return t1_ - t0_; }
  const Mat& X0() const { return X0_; }  ///< state at t0
  const Mat& X1() const { return X1_; }  ///< state at t1
  /// The 4th-order dense output at t in [t0, t1] into out (X's shape, no allocation if sized).
  void eval(double t, Mat& out) const {
    stepper_.dense((t - t0_) / (t1_ - t0_), t1_ - t0_, X0_, k1_, k7_, out);
  }

 private:
  const Dopri5<Scalar>& stepper_;
  double t0_, t1_;
  const Mat& X0_;
  const Mat& X1_;
  const Mat& k1_;
  const Mat& k7_;
};

template <typename Scalar>
using StepObserver = FunctionRef<void(const DenseStep<Scalar>&)>;

template <typename Scalar>
class AdaptiveDriver {
 public:
  using Mat = MatX<Scalar>;

  /// Throws ConfigError when an option is out of range.
  explicit AdaptiveDriver(const AdaptiveDriverOptions& options = {});

  const AdaptiveDriverOptions& options() const { return options_; }

  /// Integrates dX/dt = f(t, X) from t0 to t1 > t0, X in/out (rows x B, one column per trial).
  /// stop_times: sorted ascending; those outside (t0, t1) are ignored. observer, if given, is
  /// called after every accepted step. On failure X holds the state at result.t. Buffers are sized
  /// on the first call for a shape; later solves of that shape allocate nothing.
  SolveResult solve(Rhs<Scalar> f, double t0, double t1, std::span<const double> stop_times, Mat& X,
                    StepObserver<Scalar> observer = {});

 private:
  double initial_step(Rhs<Scalar> f, double t0, double t1);
  /// Sizes the buffers, copies X in, evaluates k1 = f(t0, X) and returns the first step size (0,
  /// with last_err = inf, when k1 is not finite).
  double start(Rhs<Scalar> f, double t0, double t_target, Mat& X, SolveResult& r, double& last_err);
  /// Why the loop must end before the next step, if it must: h below dt_min, or max_steps taken.
  std::optional<std::pair<SolveStatus, std::string>> give_up(double t, double h, double last_err,
                                                             double t0, double t1,
                                                             const SolveResult& r) const;

  AdaptiveDriverOptions options_;
  StepController controller_;
  Dopri5<Scalar> stepper_;
  Mat X_, X1_;   ///< state at the start and the end of the current step
  Mat k1_, k7_;  ///< f at both ends (k7 of an accepted step is the next k1: FSAL)
  Mat E_;        ///< error estimate of the current step
};

}  // namespace lrnn
