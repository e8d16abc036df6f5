// The integrator's options (YAML section `integrator:`), beside the solvers that own them. No
// YAML here: config/ maps the keys to these fields.
#pragma once

#include "lrnn/core/option_error.hpp"
namespace lrnn {

enum class Method { kEuler, kRk45, kTsit5 };
enum class GradientKind { kBptt, kAdjoint };

/// `integrator:` how the ODE is solved and differentiated (DESIGN.md section 3).
struct IntegratorOptions {
  Method method = Method::kEuler;               ///< integrator.method: euler | rk45 | tsit5
  GradientKind gradient = GradientKind::kBptt;  ///< integrator.gradient: bptt | adjoint
  double dt = 0.1;         ///< integrator.dt: Euler step and output grid, > 0, divides T
  double rtol = 1e-6;      ///< integrator.rtol: rk45/tsit5 relative tolerance, > 0
  double atol = 1e-8;      ///< integrator.atol: rk45/tsit5 absolute tolerance, > 0
  double dt_min = 1e-8;    ///< integrator.dt_min: smallest adaptive step before failing, > 0
  int max_steps = 100000;  ///< integrator.max_steps: adaptive steps per solve before failing, >= 1
  int checkpoints = 16;    ///< integrator.checkpoints: adjoint forward checkpoints, >= 1

  /// Checks every rule of these fields (ranges, and the relations between them), Ceres-style:
  /// true when valid; else false, with the key, value and rule in *error (when not null).
  bool IsValid(OptionError* error) const;
};

}  // namespace lrnn
