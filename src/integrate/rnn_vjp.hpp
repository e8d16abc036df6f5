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

  /// Sizes the buffers for the network's N units and B trials, packs Cᵀ for the products, and
  /// zeroes the parameter sums.
  void begin(const Network<Scalar>& net, Index B) {
    const Dims& d = net.dims();
    bulk_->reserve(d.N, B);
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
    const Index R = d.R;
    const auto inv_N = Scalar(1) / static_cast<Scalar>(N);
    const auto inv_tau = static_cast<Scalar>(1.0 / net.tau);
    const auto n = net.theta.n();
    const auto M = net.theta.M();
    const auto w = net.theta.w();

    phi_ = Y.topRows(N).array().tanh();
    const auto kappa_x = kappa.topRows(N);
    if (params) {
      z_.topRows(R).noalias() = n.transpose() * phi_;
      z_.topRows(R) *= inv_N;
      z_.bottomRows(d.d_in) = batch.u_step(rhs.input_step(t));
      dMB_.noalias() += kappa_x * z_.transpose();
    }
    v_.noalias() = M.transpose() * kappa_x;
    if (params) dn_.noalias() += phi_ * v_.transpose();
    drive_.noalias() = n * v_;
    drive_ *= inv_N;
    bulk_->add_transposed(static_cast<Scalar>(net.g), net.C, kappa_x, drive_);
    drive_ *= inv_tau;
    if (rhs.window_open(t)) {
      const auto c = inv_N / static_cast<Scalar>(T_avg);
      for (Index j = 0; j < kappa.cols(); ++j) drive_.col(j) += (kappa(N, j) * c) * w;
      if (params) {
        dw_.noalias() += phi_ * kappa.row(N).transpose();
        db_ += kappa.row(N).sum();
      }
    }
    mu.topRows(N) = -inv_tau * kappa_x + ((1 - phi_.array().square()) * drive_.array()).matrix();
    mu.row(N).setZero();  // f does not depend on q
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
  Mat phi_, drive_, z_, v_;                    ///< N x B, N x B, (R + d_in) x B, R x B
  Mat dMB_, dn_;                               ///< Σ κ_x zᵀ, Σ phi vᵀ (scaled by add_to)
  VecX<Scalar> dw_;                            ///< Σ_open phi κ_qᵀ
  Scalar db_ = 0;                              ///< Σ_open Σ κ_q
  std::unique_ptr<BulkProduct<Scalar>> bulk_;  ///< g Cᵀ κ without allocations
};

}  // namespace lrnn::detail
