// The first and the last phase of the forward solve of both rk45 gradient methods (Rk45Bptt,
// Rk45Adjoint), which differ only in what they keep of each step in between.
#pragma once

#include <string>
#include <vector>

#include "lrnn/core/errors.hpp"
#include "lrnn/integrate/adaptive_driver.hpp"
#include "lrnn/integrate/gradient_method.hpp"
#include "lrnn/integrate/rnn_rhs.hpp"

namespace lrnn::detail {

/// Binds the right-hand side to the network and batch, its bulk product computed in `mode`, and
/// lists the batch's stop times (input jumps) into `stops`.
template <typename Scalar>
void bind_forward(RnnRhs<Scalar>& rhs, BulkMode mode, const Network<Scalar>& net,
                  const TrialBatch<Scalar>& batch, const TimeGrid& grid,
                  std::vector<double>& stops) {
  rhs.set_bulk_mode(mode);
  rhs.bind(net, batch);
  rnn_stop_times(grid, batch, stops);
}

/// After the solve to T: throws NumericalError if it failed, writes ȳ (row N of the final state Z,
/// the readout's running average) and returns the solve's counts.
template <typename Scalar>
SolveStats end_forward(const SolveResult& r, const MatX<Scalar>& Z, const Network<Scalar>& net,
                       Eigen::Ref<VecX<Scalar>> y_bar) {
  if (!r.ok()) throw NumericalError("rk45 forward solve: " + r.message);
  y_bar = Z.row(net.dims().N).transpose();
  SolveStats stats;
  stats.steps_accepted = r.steps_accepted;
  stats.steps_rejected = r.steps_rejected;
  stats.rhs_forward = r.rhs_evals;
  return stats;
}

}  // namespace lrnn::detail
