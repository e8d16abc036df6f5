#include "lrnn/integrate/rnn_rhs.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "integrate/bulk_product.hpp"
#include "lrnn/core/errors.hpp"

namespace lrnn {

template <typename Scalar>
RnnRhs<Scalar>::RnnRhs(const TimeGrid& grid)
    : grid_(grid), bulk_(std::make_unique<detail::BulkProduct<Scalar>>()) {}

template <typename Scalar>
RnnRhs<Scalar>::~RnnRhs() = default;

template <typename Scalar>
void RnnRhs<Scalar>::bind(const Network<Scalar>& net, const TrialBatch<Scalar>& batch) {
  const Dims& d = net.dims();
  if (batch.n_steps != grid_.K || batch.d_in != d.d_in) {
    throw ConfigError("trial batch has " + std::to_string(batch.n_steps) + " steps of " +
                      std::to_string(batch.d_in) + " channels; the network expects " +
                      std::to_string(grid_.K) + " steps of " + std::to_string(d.d_in));
  }
  net_ = &net;
  batch_ = &batch;
  if (!(d == dims_ && batch.n_trials == n_trials_)) {
    dims_ = d;
    n_trials_ = batch.n_trials;
    bulk_->reserve(d.N, n_trials_);
    phi_.resize(d.N, n_trials_);
    z_.resize(d.R + d.d_in, n_trials_);
    MB_.resize(d.N, d.R + d.d_in);
  }
  MB_.leftCols(d.R) = net.theta.M();
  MB_.rightCols(d.d_in) = net.theta.B();
  bulk_->set_mode(bulk_mode_);
  bulk_->pack(net.C, detail::BulkProduct<Scalar>::kForward);
}

template <typename Scalar>
Index RnnRhs<Scalar>::input_step(RhsTime t) const {
  // Stop times are grid.time(k) = k dt, so t / dt is k to within a few ulps there; anything
  // farther from an integer is inside an interval. The tolerance is far below any step the
  // driver takes (dt_min), so an interior stage never snaps onto a neighbouring grid time.
  const double s = t.t / grid_.dt;
  const double k = std::round(s);
  Index i;
  if (std::abs(s - k) <= 1e-12 * std::max(1.0, k)) {
    i = static_cast<Index>(k) - (t.side == Side::kLeft ? 1 : 0);
  } else {
    i = static_cast<Index>(std::floor(s));
  }
  return std::clamp<Index>(i, 0, grid_.K - 1);
}

template <typename Scalar>
void RnnRhs<Scalar>::operator()(RhsTime t, const Mat& Z, Mat& dZdt) {
  eigen_assert(net_ != nullptr && Z.rows() == rows() && Z.cols() == cols());
  eigen_assert(dZdt.rows() == rows() && dZdt.cols() == cols());
  const Network<Scalar>& net = *net_;
  const Index N = dims_.N;
  const Index R = dims_.R;
  const auto inv_N = Scalar(1) / static_cast<Scalar>(N);
  const auto inv_tau = static_cast<Scalar>(1.0 / net.tau);

  const auto X = Z.topRows(N);
  phi_ = X.array().tanh();
  z_.topRows(R).noalias() = net.theta.n().transpose() * phi_;
  z_.topRows(R) *= inv_N;
  z_.bottomRows(dims_.d_in) = batch_->u_step(input_step(t));
  auto dX = dZdt.topRows(N);
  dX.noalias() = MB_ * z_;
  bulk_->add(static_cast<Scalar>(net.g), net.C, phi_, dX);
  dX = (dX - X) * inv_tau;

  auto dq = dZdt.row(N);
  if (window_open(t)) {
    const auto inv_T_avg = static_cast<Scalar>(1.0 / grid_.T_avg);
    dq.noalias() = net.theta.w().transpose() * phi_;
    dq.array() = (dq.array() * inv_N + net.theta.b()) * inv_T_avg;
  } else {
    dq.setZero();
  }
}

template <typename Scalar>
void rnn_stop_times(const TimeGrid& grid, const TrialBatch<Scalar>& batch,
                    std::vector<double>& out) {
  out.clear();
  for (Index k = 1; k < grid.K && k < batch.n_steps; ++k) {
    if ((batch.u_step(k).array() != batch.u_step(k - 1).array()).any()) {
      out.push_back(grid.time(k));
    }
  }
  const Index k_window = grid.K - grid.m_window;
  if (k_window > 0) out.push_back(grid.time(k_window));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

template class RnnRhs<float>;
template class RnnRhs<double>;
template void rnn_stop_times<float>(const TimeGrid&, const TrialBatch<float>&,
                                    std::vector<double>&);
template void rnn_stop_times<double>(const TimeGrid&, const TrialBatch<double>&,
                                     std::vector<double>&);

}  // namespace lrnn
