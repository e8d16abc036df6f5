#include "lrnn/integrate/step_controller.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "lrnn/core/errors.hpp"

namespace lrnn {
namespace {

void require(bool ok, const char* field, double value, const char* rule) {
  if (!ok) {
    throw ConfigError(std::string("step controller: ") + field + " = " + std::to_string(value) +
                      ": " + rule);
  }
}

}  // namespace

StepController::StepController(const StepControllerOptions& options) : options_(options) {
  const auto& o = options_;
  // The negated comparisons also reject NaN.
  require(o.rtol > 0, "integrator.rtol", o.rtol, "must be > 0");
  require(o.atol > 0, "integrator.atol", o.atol, "must be > 0");
  require(o.dt_min > 0, "integrator.dt_min", o.dt_min, "must be > 0");
  require(o.safety > 0 && o.safety <= 1, "safety", o.safety, "must be in (0, 1]");
  require(o.grow_max > 1, "grow_max", o.grow_max, "must be > 1");
  require(o.shrink_min > 0 && o.shrink_min < 1, "shrink_min", o.shrink_min, "must be in (0, 1)");
}

template <typename Scalar>
double StepController::error_norm(const MatX<Scalar>& E, const MatX<Scalar>& X0,
                                  const MatX<Scalar>& X1) const {
  eigen_assert(E.rows() == X0.rows() && E.cols() == X0.cols() && X1.rows() == X0.rows() &&
               X1.cols() == X0.cols());
  const auto atol = static_cast<Scalar>(options_.atol);
  const auto rtol = static_cast<Scalar>(options_.rtol);
  // One fused reduction, no temporaries. The scaled entries are O(1) near acceptance, so summing
  // N B of them in Scalar loses nothing that matters for a ratio compared with 1.
  const Scalar sum =
      (E.array() / (atol + rtol * X0.array().abs().max(X1.array().abs()))).square().sum();
  return std::sqrt(static_cast<double>(sum) / static_cast<double>(E.size()));
}

StepDecision StepController::decide(double err, double h, bool after_reject) const {
  const auto& o = options_;
  StepDecision d;
  d.accept = err <= 1.0;  // false for NaN
  double factor;
  if (!std::isfinite(err)) {
    factor = o.shrink_min;
  } else if (err == 0.0) {
    factor = o.grow_max;
  } else {
    factor = std::clamp(o.safety * std::pow(err, -1.0 / 5.0), o.shrink_min, o.grow_max);
  }
  // A rejected step may only shrink; right after a rejection the accepted retry does not grow
  // either, which avoids a reject-grow-reject cycle (Hairer's facmax = 1 after a rejection).
  if (!d.accept || (after_reject && o.hold_after_reject)) factor = std::min(factor, 1.0);
  d.h_next = h * factor;
  return d;
}

template double StepController::error_norm<float>(const MatX<float>&, const MatX<float>&,
                                                  const MatX<float>&) const;
template double StepController::error_norm<double>(const MatX<double>&, const MatX<double>&,
                                                   const MatX<double>&) const;

}  // namespace lrnn
