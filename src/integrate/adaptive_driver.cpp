#include "lrnn/integrate/adaptive_driver.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "lrnn/core/errors.hpp"
#include "lrnn/integrate/options.hpp"

namespace lrnn {
namespace {

// Hairer's rule for the end of an interval: a step that would stop within 1% of h short of the
// target is stretched onto it, instead of leaving a sliver step behind.
constexpr double kStretch = 1.01;

template <typename... Args>
std::string format(const char* fmt, Args... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

}  // namespace

AdaptiveDriverOptions driver_options(const IntegratorOptions& integrator) {
  AdaptiveDriverOptions o;
  o.scheme = integrator.method == Method::kTsit5 ? RkScheme::kTsit5 : RkScheme::kDopri5;
  o.control.rtol = integrator.rtol;
  o.control.atol = integrator.atol;
  o.control.dt_min = integrator.dt_min;
  o.max_steps = integrator.max_steps;
  return o;
}

const char* to_string(SolveStatus s) {
  switch (s) {
    case SolveStatus::kSuccess:
      return "success";
    case SolveStatus::kMaxStepsExceeded:
      return "max_steps_exceeded";
    case SolveStatus::kStepSizeUnderflow:
      return "step_size_underflow";
  }
  return "?";
}

template <typename Scalar>
AdaptiveDriver<Scalar>::AdaptiveDriver(const AdaptiveDriverOptions& options)
    : options_(options), controller_(options.control), stepper_(options.scheme) {
  if (!(options_.h0 >= 0)) {
    throw ConfigError("adaptive driver: h0 = " + std::to_string(options_.h0) + ": must be >= 0");
  }
  if (options_.max_steps < 1) {
    throw ConfigError("integrator.max_steps = " + std::to_string(options_.max_steps) +
                      ": must be >= 1");
  }
}

template <typename Scalar>
double AdaptiveDriver<Scalar>::initial_step(Rhs<Scalar> f, double t0, double t_limit) {
  // Hairer, Nørsett & Wanner I, II.4: make the explicit Euler step's error, estimated from the
  // change of f over a trial step h0, about 0.01 in the tolerance norm. X1_ and k7_ serve as
  // scratch: they are overwritten by the first step.
  const auto& c = options_.control;
  const auto atol = static_cast<Scalar>(c.atol);
  const auto rtol = static_cast<Scalar>(c.rtol);
  const auto rms = [](Scalar sum, Index n) {
    return std::sqrt(static_cast<double>(sum) / static_cast<double>(n));
  };
  const Index n = X_.size();
  const double d0 = rms((X_.array() / (atol + rtol * X_.array().abs())).square().sum(), n);
  const double d1 = rms((k1_.array() / (atol + rtol * X_.array().abs())).square().sum(), n);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h0 = std::min(h0, t_limit - t0);
  X1_ = X_ + static_cast<Scalar>(h0) * k1_;
  f({t0 + h0, Side::kRight}, X1_, k7_);
  const double d2 =
      rms(((k7_ - k1_).array() / (atol + rtol * X_.array().abs())).square().sum(), n) / h0;
  const double dmax = std::max(d1, d2);
  const double h1 = dmax <= 1e-15 ? std::max(1e-6, h0 * 1e-3)
                                  : std::pow(0.01 / dmax, 1.0 / Dopri5<Scalar>::kOrder);
  return std::min({100 * h0, h1, t_limit - t0});
}

template <typename Scalar>
double AdaptiveDriver<Scalar>::start(Rhs<Scalar> f, double t0, double t_target, Mat& X,
                                     SolveResult& r, double& last_err) {
  const Index rows = X.rows(), cols = X.cols();
  stepper_.resize(rows, cols);
  for (Mat* m : {&X_, &X1_, &k1_, &k7_, &E_}) m->resize(rows, cols);
  X_ = X;
  f({t0, Side::kRight}, X_, k1_);
  ++r.rhs_evals;
  if (!k1_.allFinite()) {
    // No step size can help; say so at once instead of shrinking h to dt_min first.
    last_err = std::numeric_limits<double>::infinity();
    return 0.0;
  }
  if (options_.h0 != 0.0) return options_.h0;
  ++r.rhs_evals;
  return initial_step(f, t0, t_target);
}

template <typename Scalar>
std::optional<std::pair<SolveStatus, std::string>> AdaptiveDriver<Scalar>::give_up(
    double t, double h, double last_err, double t0, double t1, const SolveResult& r) const {
  const auto& control = options_.control;
  // The negated test also catches h = NaN.
  if (!(h >= control.dt_min)) {
    const bool finite = std::isfinite(last_err) && std::isfinite(h);
    return std::pair{
        SolveStatus::kStepSizeUnderflow,
        format("step size underflow at t = %.9g: the controller asks for h = %.3g < dt_min = %.3g "
               "after %lld rejected steps (last error norm %.3g%s)",
               t, h, control.dt_min, static_cast<long long>(r.steps_rejected), last_err,
               finite ? "; a stiff or singular right-hand side?"
                      : ": the state or its derivative is not finite")};
  }
  if (r.steps_accepted + r.steps_rejected >= options_.max_steps) {
    return std::pair{
        SolveStatus::kMaxStepsExceeded,
        format("max_steps = %lld reached at t = %.9g of [%.9g, %.9g] (%lld accepted, %lld "
               "rejected, h = %.3g); raise integrator.max_steps or rtol",
               static_cast<long long>(options_.max_steps), t, t0, t1,
               static_cast<long long>(r.steps_accepted), static_cast<long long>(r.steps_rejected),
               h)};
  }
  return std::nullopt;
}

template <typename Scalar>
SolveResult AdaptiveDriver<Scalar>::solve(Rhs<Scalar> f, double t0, double t1,
                                          std::span<const double> stop_times, Mat& X,
                                          StepObserver<Scalar> observer) {
  if (!(t1 > t0)) {
    throw Error(format("adaptive driver: t1 = %.17g must be > t0 = %.17g", t1, t0));
  }
  if (!std::is_sorted(stop_times.begin(), stop_times.end())) {
    throw Error("adaptive driver: stop times must be sorted ascending");
  }
  SolveResult r;
  // The first stop strictly inside (t0, t1); those at or before the current t are passed.
  auto stop = std::upper_bound(stop_times.begin(), stop_times.end(), t0);
  const auto next_target = [&] { return stop != stop_times.end() && *stop < t1 ? *stop : t1; };

  double t = t0;
  double last_err = 0.0;
  double h = start(f, t0, next_target(), X, r, last_err);
  bool after_reject = false;
  const auto finish = [&](SolveStatus status, std::string message) {
    X = X_;
    r.status = status;
    r.message = std::move(message);
    r.t = t;
    r.h_next = h;
    return r;
  };

  while (t < t1) {
    const double target = next_target();
    if (auto end = give_up(t, h, last_err, t0, t1, r)) {
      return finish(end->first, std::move(end->second));
    }
    const bool clipped = t + kStretch * h >= target;
    // Landing on the target exactly (not t + h) keeps stop times exact, so the next step starts
    // precisely at the jump and reads the input from its right.
    const double t_new = clipped ? target : t + h;
    stepper_.step(f, t, t_new, X_, k1_, X1_, k7_, E_);
    r.rhs_evals += Dopri5<Scalar>::kStages - 1;
    last_err = controller_.error_norm(E_, X_, X1_);
    const StepDecision d = controller_.decide(last_err, t_new - t, after_reject);
    if (!d.accept) {
      ++r.steps_rejected;
      after_reject = true;
      h = d.h_next;
      continue;
    }
    ++r.steps_accepted;
    if (observer) observer(DenseStep<Scalar>(stepper_, t, t_new, X_, X1_, k1_, k7_));
    X_.swap(X1_);
    k1_.swap(k7_);
    // A step shortened to reach the target says nothing against the longer one the controller had
    // proposed, so that proposal survives the clip (else a sliver before a stop would shrink h).
    h = clipped ? std::max(d.h_next, h) : d.h_next;
    after_reject = false;
    t = t_new;
    if (clipped && t < t1) {
      // FSAL does not hold across a stop: k7 was evaluated with the input to the left of t.
      stop = std::upper_bound(stop, stop_times.end(), t);
      f({t, Side::kRight}, X_, k1_);
      ++r.rhs_evals;
    }
  }
  return finish(SolveStatus::kSuccess, {});
}

template class AdaptiveDriver<float>;
template class AdaptiveDriver<double>;

}  // namespace lrnn
