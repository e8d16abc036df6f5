// A block of trials as the integrators consume it.
#pragma once

#include <cstdint>
#include <vector>

#include "lrnn/core/types.hpp"

namespace lrnn {

/// B trials on a grid of K steps with d_in input channels.
/// u holds u_k for every step k = 0 .. K-1 side by side: the d_in x B block of step k is
/// u.middleCols(k * B, B), so the input term B u_k is one small product per step.
template <typename Scalar>
struct TrialBatch {
  Index n_trials = 0;  ///< B
  Index n_steps = 0;   ///< K
  Index d_in = 0;
  MatX<Scalar> u;                   ///< d_in x (K * B)
  VecX<Scalar> target;              ///< B: ±1 (pm1) or {0, 1} (binary)
  std::vector<int> context;         ///< B: 1 or 2 (0 if unknown, e.g. from a trials file)
  MatX<double> coherence;           ///< 2 x B: signed stimulus strength σ_i a_i of each channel
  std::vector<std::int64_t> index;  ///< B: trial index within its split
  /// Which realisation of the recurrent noise xi the trials get when the network has
  /// rnn.noise_std > 0 (DESIGN.md section 1): the split (its own stream) and, for training, the
  /// epoch, so that a trial meets fresh noise every epoch; validation and test use epoch 0. Set by
  /// whoever solves the batch (BatchGradient, the trace recorder), not by the trial source.
  std::uint32_t noise_split = 0;
  std::uint32_t noise_epoch = 0;

  void resize(Index trials, Index steps, Index channels) {
    n_trials = trials;
    n_steps = steps;
    d_in = channels;
    u.resize(channels, steps * trials);
    target.resize(trials);
    context.assign(static_cast<std::size_t>(trials), 0);
    coherence.setZero(2, trials);
    index.assign(static_cast<std::size_t>(trials), 0);
  }

  auto u_step(Index k) const { return u.middleCols(k * n_trials, n_trials); }
};

}  // namespace lrnn
