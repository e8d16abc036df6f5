// The low-rank network of Mastrogiuseppe & Ostojic (2018):
//   tau dx/dt = -x + J phi(x) + B u,   J = g C + M nᵀ / N,   phi = tanh,
//   y = wᵀ phi(x) / N + b.
// C is fixed (entries N(0, 1/N)), only theta = (M, n, B, w, b) is trained. J is never formed:
// J phi = g (C phi) + M (nᵀ phi / N).
#pragma once

#include <cstdint>

#include "lrnn/model/params.hpp"

namespace lrnn {

struct RnnOptions;

template <typename Scalar>
struct Network {
  Params<Scalar> theta;  ///< trainable parameters
  MatX<Scalar> C;        ///< N x N fixed random bulk
  double g = 0.8;        ///< bulk gain
  double tau = 1.0;      ///< time constant (model time units)
  /// sigma of the recurrent noise (rnn.noise_std, Euler only): Euler-Maruyama adds
  /// sigma sqrt(2 dt / tau) xi_k to every unit at every step, xi_k ~ N(0, I); 0 = deterministic.
  double noise_std = 0.0;
  std::uint64_t noise_seed = 0;  ///< keys xi's streams (the run's training.seed)

  const Dims& dims() const { return theta.dims(); }

  template <typename Other>
  Network<Other> cast() const {
    return Network<Other>{
        theta.template cast<Other>(), C.template cast<Other>(), g, tau, noise_std, noise_seed};
  }
};

/// Draws C and the initial theta from `seed` with counter-based streams (DESIGN.md section 1):
/// C_ij ~ N(0, 1/N); M, n ~ N(0, s²/N); B ~ N(0, s²/d_in); w ~ N(0, s²/N); b = 0.
/// The same seed gives the same network in float and double, on any machine.
template <typename Scalar>
Network<Scalar> init_network(const RnnOptions& options, std::uint64_t seed);

}  // namespace lrnn
