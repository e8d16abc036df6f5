#include "lrnn/integrate/euler_bptt.hpp"

#include <cmath>

#include "integrate/bulk_product.hpp"
#include "lrnn/core/errors.hpp"

namespace lrnn {
namespace {

// The constants of the Euler map x_{k+1} = keep x_k + alpha (g C phi_k + M kappa_k + B u_k), with
// kappa_k = n^T phi_k inv_N: what the forward sweep and its reverse share.
template <typename Scalar>
struct EulerMap {
  Scalar alpha;  ///< dt / tau
  Scalar keep;   ///< 1 - alpha
  Scalar g;
  Scalar inv_N;  ///< 1 / N
};

template <typename Scalar>
EulerMap<Scalar> euler_map(const Network<Scalar>& net, const TimeGrid& grid) {
  const auto alpha = static_cast<Scalar>(grid.dt / net.tau);
  return {alpha, Scalar(1) - alpha, static_cast<Scalar>(net.g),
          Scalar(1) / static_cast<Scalar>(net.dims().N)};
}

}  // namespace

template <typename Scalar>
EulerBptt<Scalar>::EulerBptt(const TimeGrid& grid)
    : grid_(grid), bulk_(std::make_unique<detail::BulkProduct<Scalar>>()) {}

template <typename Scalar>
EulerBptt<Scalar>::~EulerBptt() = default;

template <typename Scalar>
void EulerBptt<Scalar>::reserve(const Dims& d, Index n_trials) {
  const Index K = grid_.K;
  if (d == dims_ && n_trials == n_trials_) return;
  bulk_->reserve(d.N, n_trials);
  dims_ = d;
  n_trials_ = n_trials;
  tape_.resize(d.N, (K + 1) * n_trials);
  x_.resize(d.N, n_trials);
  drive_.resize(d.N, n_trials);
  z_.resize(d.R + d.d_in, n_trials);
  MB_.resize(d.N, d.R + d.d_in);
  a_.resize(d.N, n_trials);
  v_.resize(d.R, n_trials);
  dMB_.resize(d.N, d.R + d.d_in);
  ysum_.resize(n_trials);
  noise_.reserve(d.N, n_trials);
}

template <typename Scalar>
void EulerBptt<Scalar>::forward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                                Eigen::Ref<VecX<Scalar>> y_bar) {
  const Dims& d = net.dims();
  const Index Bt = batch.n_trials;
  if (batch.n_steps != grid_.K || batch.d_in != d.d_in) {
    throw ConfigError("trial batch has " + std::to_string(batch.n_steps) + " steps of " +
                      std::to_string(batch.d_in) + " channels; the network expects " +
                      std::to_string(grid_.K) + " steps of " + std::to_string(d.d_in));
  }
  reserve(d, Bt);
  // C is fixed: its panels are packed once here for the K forward and K backward products.
  bulk_->set_mode(this->bulk_mode());
  bulk_->pack(net.C,
              detail::BulkProduct<Scalar>::kForward | detail::BulkProduct<Scalar>::kTransposed);
  const Index K = grid_.K;
  const Index R = d.R;
  const auto [alpha, keep, g, inv_N] = euler_map(net, grid_);

  MB_.leftCols(R) = net.theta.M();
  MB_.rightCols(d.d_in) = net.theta.B();
  const auto n = net.theta.n();
  const auto w = net.theta.w();

  const bool noisy = net.noise_std > 0.0;
  const auto noise_scale = static_cast<Scalar>(net.noise_std * std::sqrt(2.0 * grid_.dt / net.tau));
  const std::uint32_t noise_stream =
      static_cast<std::uint32_t>(Stream::kRecurrentNoise) + batch.noise_split;

  x_.setZero();
  phi(0).setZero();
  ysum_.setZero();
  if (states_ != nullptr) {
    states_->resize(d.N, (K + 1) * Bt);
    states_->leftCols(Bt).setZero();
  }
  for (Index k = 0; k < K; ++k) {
    this->poll_cancel();
    const auto phi_k = tape_.middleCols(k * Bt, Bt);
    // z = [kappa_k; u_k] so that the low-rank and input terms are one product [M B] z.
    z_.topRows(R).noalias() = n.transpose() * phi_k;
    z_.topRows(R) *= inv_N;
    z_.bottomRows(d.d_in) = batch.u_step(k);
    drive_.noalias() = MB_ * z_;
    bulk_->add(g, net.C, phi_k, drive_);
    if (noisy) {
      noise_.draw(net.noise_seed, noise_stream, batch.noise_epoch, batch.index.data(), Bt, k, d.N);
      x_ = keep * x_ + alpha * drive_ + noise_scale * noise_.block().template cast<Scalar>();
    } else {
      x_ = keep * x_ + alpha * drive_;
    }
    if (states_ != nullptr) states_->middleCols((k + 1) * Bt, Bt) = x_;
    auto phi_next = tape_.middleCols((k + 1) * Bt, Bt);
    phi_next = x_.array().tanh();
    if (grid_.in_window(k + 1)) ysum_.noalias() += w.transpose() * phi_next;
  }
  const auto scale = inv_N / static_cast<Scalar>(grid_.m_window);
  y_bar = (ysum_.transpose() * scale).array() + net.theta.b();
  stats_ = SolveStats{};
  stats_.steps_accepted = K;
  stats_.rhs_forward = K;
}

template <typename Scalar>
void EulerBptt<Scalar>::backward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                                 const Eigen::Ref<const VecX<Scalar>>& dL_dybar,
                                 Params<Scalar>& grad) {
  const Dims& d = net.dims();
  const Index Bt = batch.n_trials;
  const Index K = grid_.K;
  const Index R = d.R;
  const auto [alpha, keep, g, inv_N] = euler_map(net, grid_);
  const auto n = net.theta.n();
  const auto M = net.theta.M();
  const auto w = net.theta.w();

  // dy_k = dL/dȳ / m is the same for every k in the window.
  const RowVecX<Scalar> dy = dL_dybar.transpose() / static_cast<Scalar>(grid_.m_window);
  auto dL_dn = grad.n();
  auto dL_dw = grad.w();
  dMB_.setZero();
  a_.setZero();
  for (Index k = K - 1; k >= 0; --k) {
    this->poll_cancel();
    const auto phi_next = tape_.middleCols((k + 1) * Bt, Bt);
    if (grid_.in_window(k + 1)) {
      // Direct readout term at t_{k+1}: dy/dx = phi' ⊙ w / N.
      for (Index j = 0; j < Bt; ++j) {
        a_.col(j).array() += (1 - phi_next.col(j).array().square()) * w.array() * (dy[j] * inv_N);
      }
      dL_dw.noalias() += phi_next * (dy.transpose() * inv_N);
    }
    // a_ is now dL/dx_{k+1}; collect the parameter terms of step k.
    const auto phi_k = tape_.middleCols(k * Bt, Bt);
    z_.topRows(R).noalias() = n.transpose() * phi_k;
    z_.topRows(R) *= inv_N;
    z_.bottomRows(d.d_in) = batch.u_step(k);
    dMB_.noalias() += a_ * z_.transpose();
    v_.noalias() = M.transpose() * a_;
    dL_dn.noalias() += (phi_k * (alpha * inv_N)) * v_.transpose();
    if (k == 0) break;  // x_0 = 0 is fixed: no need to carry a_ further
    drive_.noalias() = (n * inv_N) * v_;
    bulk_->add_transposed(g, net.C, a_, drive_);
    a_ = keep * a_ + alpha * ((1 - phi_k.array().square()) * drive_.array()).matrix();
  }
  grad.M() += alpha * dMB_.leftCols(R);
  grad.B() += alpha * dMB_.rightCols(d.d_in);
  grad.b() += dL_dybar.sum();
  stats_.rhs_backward = K;
}

template class EulerBptt<float>;
template class EulerBptt<double>;
}  // namespace lrnn
