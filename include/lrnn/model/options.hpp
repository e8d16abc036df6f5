// The network's options (YAML section `rnn:`), beside the model that owns them. No YAML here:
// config/ maps the keys to these fields.
#pragma once

#include "lrnn/core/option_error.hpp"
namespace lrnn {

/// `rnn:` the network tau dx/dt = -x + (g C + M nᵀ/N) tanh(x) + B u, y = wᵀ tanh(x)/N + b.
struct RnnOptions {
  int N = 500;              ///< rnn.N: number of units, >= 1
  int R = 2;                ///< rnn.R: rank of M nᵀ, 1 <= R <= N
  double g = 0.8;           ///< rnn.g: gain of the random bulk C, >= 0
  double tau = 1.0;         ///< rnn.tau: time constant (model time units), > 0
  int d_in = 4;             ///< rnn.d_in: input channels; 4 for the generated task
  double M_init_std = 1.0;  ///< rnn.M_init_std: M ~ N(0, s²/N), >= 0
  double N_init_std = 1.0;  ///< rnn.N_init_std: n ~ N(0, s²/N), >= 0
  double B_init_std = 1.0;  ///< rnn.B_init_std: B ~ N(0, s²/d_in), >= 0
  double w_init_std = 1.0;  ///< rnn.w_init_std: w ~ N(0, s²/N), >= 0
  /// rnn.noise_std: sigma of the recurrent noise, the stationary std it gives a leaky unit
  /// (Euler-Maruyama, euler only), >= 0; 0 = none
  double noise_std = 0.0;

  /// Checks every rule of these fields (ranges, and the relations between them), Ceres-style:
  /// true when valid; else false, with the key, value and rule in *error (when not null).
  bool IsValid(OptionError* error) const;
};

}  // namespace lrnn
