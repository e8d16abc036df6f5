// The factory behind integrator.method / integrator.gradient.
#include "lrnn/integrate/gradient_method.hpp"

#include "lrnn/core/errors.hpp"
#include "lrnn/integrate/adaptive_driver.hpp"
#include "lrnn/integrate/euler_bptt.hpp"
#include "lrnn/integrate/options.hpp"
#include "lrnn/integrate/rk45_adjoint.hpp"
#include "lrnn/integrate/rk45_bptt.hpp"

namespace lrnn {

template <typename Scalar>
std::unique_ptr<GradientMethod<Scalar>> make_gradient_method(const IntegratorOptions& options,
                                                             const TimeGrid& grid) {
  switch (options.method) {
    case Method::kEuler:
      return std::make_unique<EulerBptt<Scalar>>(grid);
    case Method::kRk45:
    case Method::kTsit5:  // the same methods with Tsitouras's tableau (driver_options)
      if (options.gradient == GradientKind::kBptt) {
        return std::make_unique<Rk45Bptt<Scalar>>(grid, driver_options(options));
      }
      return std::make_unique<Rk45Adjoint<Scalar>>(grid, driver_options(options),
                                                   options.checkpoints);
  }
  throw ConfigError("integrator.method: unknown");
}

template std::unique_ptr<GradientMethod<float>> make_gradient_method<float>(
    const IntegratorOptions&, const TimeGrid&);
template std::unique_ptr<GradientMethod<double>> make_gradient_method<double>(
    const IntegratorOptions&, const TimeGrid&);

}  // namespace lrnn
