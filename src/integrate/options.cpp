#include "lrnn/integrate/options.hpp"

#include "core/option_checks.hpp"

namespace lrnn {

bool IntegratorOptions::IsValid(OptionError* error) const {
  detail::OptionChecks c(error);
  return c.positive("integrator.dt", dt) &&
         // Euler's gradient is the exact BPTT of its steps; the continuous adjoint is rk45's.
         (method != Method::kEuler || gradient != GradientKind::kAdjoint ||
          c.fail({"integrator.gradient", "integrator.method"}, "integrator.gradient", "adjoint",
                 "needs integrator.method: rk45 or tsit5 (euler's gradient is bptt)")) &&
         c.positive("integrator.rtol", rtol) && c.positive("integrator.atol", atol) &&
         c.positive("integrator.dt_min", dt_min) &&
         c.at_least("integrator.max_steps", max_steps, 1) &&
         c.at_least("integrator.checkpoints", checkpoints, 1);
}

}  // namespace lrnn
