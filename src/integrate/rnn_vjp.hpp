// The vector-Jacobian product of RnnRhs's f, shared by the discrete adjoint (Rk45Bptt) and the
// continuous adjoint (Rk45Adjoint). With Z = [X; q], cotangent κ = [κ_x; κ_q], phi = tanh(X),
// phi' = 1 - phi², kappa = nᵀ phi / N and o = [window open at t]:
//   μ_x = -κ_x / tau + phi' ⊙ ((g Cᵀ κ_x + n Mᵀ κ_x / N) / tau + o w κ_q / (N T_avg)),  μ_q = 0,
//   dL/dM += κ_x kappaᵀ / tau,  dL/dn += phi (Mᵀ κ_x)ᵀ / (N tau),  dL/dB += κ_x uᵀ / tau,
//   dL/dw += o phi κ_qᵀ / (N T_avg),  dL/db += o Σ κ_q / T_avg.
// The parameter terms are summed unscaled and scaled once by add_to(). Nothing allocates once
// begin() has sized the buffers for a shape.
#pragma once

#include <memory>

#include "integrate/bulk_product.hpp"
#include "lrnn/integrate/rnn_rhs.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/model/params.hpp"

namespace lrnn::detail {

template <typename Scalar>
class RnnVjp {
 public:
  using Mat = MatX<Scalar>;

  RnnVjp() : bulk_(std::make_unique<BulkProduct<Scalar>>()) {}

  /// Sizes the buffers for the network's N units and B trials, packs Cᵀ for the products (in
  /// `mode`), and zeroes the parameter sums.
  void begin(const Network<Scalar>& net, Index B, BulkMode mode = BulkMode::kNative) {
    const Dims& d = net.dims();
    bulk_->reserve(d.N, B);
    bulk_->set_mode(mode);
    bulk_->pack(net.C, BulkProduct<Scalar>::kTransposed);
    phi_.resize(d.N, B);
    drive_.resize(d.N, B);
    z_.resize(d.R + d.d_in, B);
    v_.resize(d.R, B);
    dMB_.setZero(d.N, d.R + d.d_in);
    dn_.setZero(d.N, d.R);
    dw_.setZero(d.N);
    db_ = 0;
  }

  /// mu = (∂f/∂Z)(t, Y)ᵀ kappa (overwritten; rows x B like Y). With params, also adds kappaᵀ ∂f/∂θ
  /// to the parameter sums. rhs supplies the input step and the window at t.
  void apply(const Network<Scalar>& net, const TrialBatch<Scalar>& batch, const RnnRhs<Scalar>& rhs,
             double T_avg, RhsTime t, const Mat& Y, const Mat& kappa, Mat& mu, bool params) {
    const Dims& d = net.dims();
    const Index N = d.N;
    const auto inv_N = Scalar(1) / static_cast<Scalar>(N);
    const auto inv_tau = static_cast<Scalar>(1.0 / net.tau);
    const auto kappa_x = kappa.topRows(N);
    phi_ = Y.topRows(N).array().tanh();
    v_.noalias() = net.theta.M().transpose() * kappa_x;
    if (params) sum_params(net, batch, rhs, t, kappa);
    drive_.noalias() = net.theta.n() * v_;
    drive_ *= inv_N;
    bulk_->add_transposed(static_cast<Scalar>(net.g), net.C, kappa_x, drive_);
    drive_ *= inv_tau;
    if (rhs.window_open(t)) {
      const auto c = inv_N / static_cast<Scalar>(T_avg);
      for (Index j = 0; j < kappa.cols(); ++j) drive_.col(j) += (kappa(N, j) * c) * net.theta.w();
    }
    mu.topRows(N) = -inv_tau * kappa_x + ((1 - phi_.array().square()) * drive_.array()).matrix();
    mu.row(N).setZero();  // f does not depend on q
  }

  /// Adds kappaᵀ ∂f/∂θ at (t, Y) to the parameter sums only: what a quadrature of the parameter
  /// integrals needs, without the O(N²) product with Cᵀ that the state's VJP costs.
  void add_params(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                  const RnnRhs<Scalar>& rhs, RhsTime t, const Mat& Y, const Mat& kappa) {
    const Index N = net.dims().N;
    phi_ = Y.topRows(N).array().tanh();
    v_.noalias() = net.theta.M().transpose() * kappa.topRows(N);
    sum_params(net, batch, rhs, t, kappa);
  }

  /// Adds the scaled parameter sums to grad.
  void add_to(const Network<Scalar>& net, double T_avg, Params<Scalar>& grad) const {
    const Dims& d = net.dims();
    const auto inv_N = Scalar(1) / static_cast<Scalar>(d.N);
    const auto inv_tau = static_cast<Scalar>(1.0 / net.tau);
    const auto inv_T_avg = static_cast<Scalar>(1.0 / T_avg);
    grad.M() += inv_tau * dMB_.leftCols(d.R);
    grad.B() += inv_tau * dMB_.rightCols(d.d_in);
    grad.n() += (inv_tau * inv_N) * dn_;
    grad.w() += (inv_N * inv_T_avg) * dw_;
    grad.b() += inv_T_avg * db_;
  }

 private:
  /// The parameter sums at (t, Y), given phi_ = tanh(Y) and v_ = Mᵀ kappa_x.
  void sum_params(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                  const RnnRhs<Scalar>& rhs, RhsTime t, const Mat& kappa) {
    const Dims& d = net.dims();
    const Index N = d.N;
    const Index R = d.R;
    z_.topRows(R).noalias() = net.theta.n().transpose() * phi_;
    z_.topRows(R) *= Scalar(1) / static_cast<Scalar>(N);
    z_.bottomRows(d.d_in) = batch.u_step(rhs.input_step(t));
    dMB_.noalias() += kappa.topRows(N) * z_.transpose();
    dn_.noalias() += phi_ * v_.transpose();
    if (rhs.window_open(t)) {
      dw_.noalias() += phi_ * kappa.row(N).transpose();
      db_ += kappa.row(N).sum();
    }
  }

  Mat phi_, drive_, z_, v_;                    ///< N x B, N x B, (R + d_in) x B, R x B
  Mat dMB_, dn_;                               ///< Σ κ_x zᵀ, Σ phi vᵀ (scaled by add_to)
  VecX<Scalar> dw_;                            ///< Σ_open phi κ_qᵀ
  Scalar db_ = 0;                              ///< Σ_open Σ κ_q
  std::unique_ptr<BulkProduct<Scalar>> bulk_;  ///< g Cᵀ κ without allocations
};

}  // namespace lrnn::detail
