// The low-rank network as an ODE for the adaptive solver (DESIGN.md sections 1-3), on a batch, with
// the loss window's average carried as one quadrature state per trial:
//
//   Z = [X; q]  ((N + 1) x B: the N unit states of each trial, then its quadrature q),
//   tau dX/dt = -X + g C tanh(X) + M (nᵀ tanh(X)) / N + B u(t),
//   dq/dt     = [t >= T - T_avg] (wᵀ tanh(X) / N + b) / T_avg,      X(0) = 0, q(0) = 0,
//
// so that q(T) = (1/T_avg) ∫_{T - T_avg}^{T} y dt = ȳ without a stop at every grid time.
// u is piecewise constant on the Euler grid: u_k on [t_k, t_{k+1}). At a grid time t_k the side of
// the evaluation time decides: Side::kRight reads u_k, Side::kLeft reads u_{k-1}; the same rule
// switches the window on at T - T_avg. Every time where the right-hand side jumps must be a stop
// time of the driver (rnn_stop_times lists them), or the step across it loses its order.
//
// q counts in the error norm like any other row. It is what the loss sees, so its local error
// should be controlled; it is one row in N + 1, so it cannot dominate the RMS norm; and because it
// is an ordinary state, the stepper, the dense output and a later discrete adjoint need no special
// case. Before the window opens q' = 0 exactly and adds nothing to the norm.
#pragma once

#include <memory>
#include <vector>

#include "lrnn/integrate/bulk_mode.hpp"
#include "lrnn/integrate/dopri5.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/time_grid.hpp"
#include "lrnn/task/trial_batch.hpp"

namespace lrnn {
namespace detail {
template <typename Scalar>
class BulkProduct;
}  // namespace detail

template <typename Scalar>
class RnnRhs {
 public:
  using Mat = MatX<Scalar>;

  explicit RnnRhs(const TimeGrid& grid);
  ~RnnRhs();
  RnnRhs(const RnnRhs&) = delete;
  RnnRhs& operator=(const RnnRhs&) = delete;

  /// Binds a network and a batch on this grid; both must outlive the calls until the next bind.
  /// Sizes the buffers (once per shape) and copies [M B]. Throws ConfigError on a shape mismatch.
  void bind(const Network<Scalar>& net, const TrialBatch<Scalar>& batch);

  /// How g C phi is computed from the next bind() on (default kNative).
  void set_bulk_mode(BulkMode mode) { bulk_mode_ = mode; }

  Index rows() const { return dims_.N + 1; }  ///< state rows: N units and q
  Index cols() const { return n_trials_; }    ///< trials B

  /// Z(0) = 0, shaped rows() x cols().
  void initial_state(Mat& Z) const { Z.setZero(rows(), cols()); }

  /// dZ/dt at (t, Z). dZdt must be rows() x cols(). Allocates nothing.
  void operator()(RhsTime t, const Mat& Z, Mat& dZdt);

  /// k with t in [t_k, t_{k+1}), clamped to 0 .. K-1; at a grid time the side decides.
  Index input_step(RhsTime t) const;
  /// Whether the quadrature runs at t: t >= T - T_avg, the left limit excluded at T - T_avg.
  bool window_open(RhsTime t) const { return input_step(t) >= grid_.K - grid_.m_window; }

 private:
  TimeGrid grid_;
  Dims dims_;
  Index n_trials_ = 0;
  const Network<Scalar>* net_ = nullptr;
  const TrialBatch<Scalar>* batch_ = nullptr;
  Mat phi_;  ///< N x B: tanh(X)
  Mat z_;    ///< (R + d_in) x B: [kappa; u] = [nᵀ phi / N; u_k]
  Mat MB_;   ///< N x (R + d_in): [M, B], so the low-rank and input terms are one product
  BulkMode bulk_mode_ = BulkMode::kNative;
  std::unique_ptr<detail::BulkProduct<Scalar>> bulk_;  ///< g C phi without allocations
};

/// The stop times of a batch on its grid, sorted and unique, inside (0, T): every t_k at which
/// some trial's input changes (u_k != u_{k-1}: the stimulus onset, each noise_dt boundary) and the
/// window opening T - T_avg. Times are grid.time(k), the values RnnRhs::input_step snaps to.
template <typename Scalar>
void rnn_stop_times(const TimeGrid& grid, const TrialBatch<Scalar>& batch,
                    std::vector<double>& out);

}  // namespace lrnn
