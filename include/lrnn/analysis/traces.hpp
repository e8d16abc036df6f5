// What lrnn-eval records of each trial: the readout y(t) and the latent variables
// κ_r(t) = n_rᵀ tanh(x(t)) / N at the observation times t_1 .. t_K of the grid, with the trial's
// labels. Euler reads them off its own steps; rk45 evaluates its dense output at the grid times.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "lrnn/core/types.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/time_grid.hpp"
#include "lrnn/task/trial_source.hpp"

namespace lrnn {

struct TrialTraces {
  std::vector<double> t;            ///< K observation times t_1 .. t_K
  MatX<double> y;                   ///< trials x K: readout y(t_k)
  std::vector<MatX<double>> kappa;  ///< R matrices, trials x K: κ_r(t_k)
  VecX<double> y_bar;               ///< trials: the loss-window average ȳ the loss and choice use
  VecX<double> target;              ///< trials: ±1 (pm1) or {0, 1} (binary)
  std::vector<int> context;         ///< trials: 1 or 2 (0 if unknown, e.g. from a trials file)
  MatX<double> coherence;  ///< trials x 2: signed strength σ_i a_i of stimulus i (0 if unknown)
  std::vector<double> u;   ///< trials x K x d_in, row-major: the exact inputs u_0 .. u_{K-1}
  /// trials x K x N, row-major: the states x(t_1) .. x(t_K), when record_traces was asked for
  /// them (record_states); else empty. N K doubles a trial: for small batches.
  std::vector<double> x;
  Index d_in = 0;             ///< input channels
  double window_start = 0.0;  ///< T - T_avg: the loss window opens
  double window_end = 0.0;    ///< T

  Index n_trials() const { return y.rows(); }
  Index n_obs() const { return y.cols(); }
  Index rank() const { return static_cast<Index>(kappa.size()); }
};

struct IntegratorOptions;

/// Simulates trials `indices[0..count)` of `split` with the integrator of `integrator` (euler or
/// rk45; the gradient method is irrelevant) and records y and κ at t_1 .. t_K, ȳ, the labels and
/// the inputs. Euler reads them off its own steps, so ȳ is exactly what the training loss saw;
/// rk45 evaluates its 4th-order dense output at the grid times (DESIGN.md section 3) and takes ȳ
/// from its window quadrature. Trials run in blocks of 16 on up to `threads` threads; the result
/// does not depend on the thread count. `progress(done, count)` is called after each block from
/// the calling thread's team (serialised). With `record_states`, also the states x(t_k) (Euler's
/// own, rk45's dense output) into TrialTraces::x. Throws NumericalError if a solve fails.
template <typename Scalar>
TrialTraces record_traces(const Network<Scalar>& net, const TrialSource& source, Split split,
                          const std::int64_t* indices, Index count,
                          const IntegratorOptions& integrator, const TimeGrid& grid, int threads,
                          const std::function<void(Index, Index)>& progress = {},
                          bool record_states = false);

}  // namespace lrnn
