// Forward Euler with backpropagation through time: the exact gradient of the discrete loss.
//
//   x_{k+1} = x_k + α (-x_k + g C phi_k + M kappa_k + B u_k) + sigma sqrt(2 α) xi_k,   α = dt /
//   tau, phi_k = tanh(x_k),  kappa_k = nᵀ phi_k / N,  y_k = wᵀ phi_k / N + b, ȳ = (1/m) Σ_{k =
//   K-m+1}^{K} y_k.
//
// Backward, with a_k = dL/dx_k:
//   a_k = (1 - α) a_{k+1} + α phi'_k ⊙ (g Cᵀ a_{k+1} + n Mᵀ a_{k+1} / N) + [k in W] phi'_k ⊙ w
//   dy_kᵀ/N dL/dM += α a_{k+1} kappa_kᵀ,  dL/dn += α phi_k (Mᵀ a_{k+1})ᵀ / N,  dL/dB += α a_{k+1}
//   u_kᵀ, dL/dw += Σ_{k in W} phi_k dy_k / N,  dL/db += Σ_{k in W} Σ_trials dy_k,   dy_k = dL/dȳ /
//   m.
//
// With recurrent noise (sigma = rnn.noise_std > 0) the step is Euler-Maruyama, xi_k ~ N(0, I) drawn
// from the trial's counter-based stream (core/random.hpp, NormalBlock): sigma is, to first order in
// α, the stationary std of a leaky unit it drives (exactly sigma / sqrt(1 - α/2)). The noise is
// additive, so the backward pass above is unchanged: it needs only the stored phi_k, and xi is
// neither stored nor drawn again.
//
// The tape holds phi_0 .. phi_K (phi' = 1 - phi²): N (K+1) B numbers. Buffers are sized on the
// first call for a shape and reused; the time loops allocate nothing.
#pragma once

#include "lrnn/core/random.hpp"
#include "lrnn/integrate/gradient_method.hpp"

namespace lrnn {
namespace detail {
template <typename Scalar>
class BulkProduct;
}  // namespace detail

template <typename Scalar>
class EulerBptt final : public GradientMethod<Scalar> {
 public:
  explicit EulerBptt(const TimeGrid& grid);
  ~EulerBptt() override;

  void forward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
               Eigen::Ref<VecX<Scalar>> y_bar) override;
  void backward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                const Eigen::Ref<const VecX<Scalar>>& dL_dybar, Params<Scalar>& grad) override;
  SolveStats stats() const override { return stats_; }

  /// phi_k = tanh(x_k) of the last forward(), k = 0 .. K: an N x B block. lrnn-eval reads the
  /// readout y_k and the latents kappa_k = nᵀ phi_k / N off these, the same numbers the loss saw.
  auto tape_step(Index k) const { return tape_.middleCols(k * n_trials_, n_trials_); }

  /// Also keep the states x_0 .. x_K of every forward() in *states, an N x ((K+1) B) block laid
  /// out as the tape (resized before the time loop), or stop (nullptr, the default). For the
  /// recorders of analysis/traces.hpp; training needs phi only.
  void set_state_record(MatX<Scalar>* states) { states_ = states; }

 private:
  void reserve(const Dims& d, Index n_trials);
  auto phi(Index k) { return tape_.middleCols(k * n_trials_, n_trials_); }

  TimeGrid grid_;
  Index n_trials_ = 0;
  Dims dims_;
  MatX<Scalar> tape_;     ///< N x ((K+1) B): phi_0 .. phi_K
  MatX<Scalar> x_;        ///< N x B state
  MatX<Scalar> drive_;    ///< N x B: g C phi + [M B] z, then the backward drive
  MatX<Scalar> z_;        ///< (R + d_in) x B: [kappa_k; u_k]
  MatX<Scalar> MB_;       ///< N x (R + d_in): [M, B] side by side
  MatX<Scalar> a_;        ///< N x B adjoint dL/dx
  MatX<Scalar> v_;        ///< R x B: Mᵀ a
  MatX<Scalar> dMB_;      ///< N x (R + d_in): dL/d[M, B]
  RowVecX<Scalar> ysum_;  ///< 1 x B: Σ_W wᵀ phi_k
  NormalBlock noise_;     ///< xi_k of the recurrent noise
  SolveStats stats_;
  std::unique_ptr<detail::BulkProduct<Scalar>> bulk_;  ///< g C phi without allocations
  MatX<Scalar>* states_ = nullptr;  ///< x_0 .. x_K when asked (set_state_record), not owned
};

}  // namespace lrnn
