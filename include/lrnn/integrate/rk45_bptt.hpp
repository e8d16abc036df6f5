// Dormand–Prince 5(4) with the discrete adjoint of its accepted steps (DESIGN.md section 3,
// `integrator.method: rk45, gradient: bptt`): the exact derivative of the computed ȳ = q(T) with
// the accepted step sizes held fixed (the error estimate and the controller are not
// differentiated).
//
// The state is RnnRhs's Z = [X; q] ((N + 1) x B). Step n maps Z_n to
//   Z_{n+1} = Z_n + h Σ_{i=1}^{6} b_i k_i,   k_i = f(τ_i, Y_i),   Y_i = Z_n + h Σ_{j<i} a_ij k_j,
// with τ_1 = t_n⁺, τ_i = t_n + c_i h⁺ (i = 2..5), τ_6 = t_{n+1}⁻ (b_7 = 0: the FSAL stage is not
// part of the map). Backward, from λ = dL/dZ_{n+1} (λ = [0; dL/dȳ] at t = T):
//   κ_i = h b_i λ,   for i = 6 .. 1:  μ_i = (∂f/∂Y)(τ_i, Y_i)ᵀ κ_i,   κ_j += h a_ij μ_i (j < i),
//   dL/dZ_n = λ + Σ_i μ_i,
// and each stage adds its vector-Jacobian product to dL/dθ. For f of RnnRhs, with cotangent
// κ = [κ_x; κ_q], phi = tanh(X), phi' = 1 - phi², kappa = nᵀ phi / N, o = [window open at τ]:
//   μ_x = -κ_x / tau + phi' ⊙ ((g Cᵀ κ_x + n Mᵀ κ_x / N) / tau + o w κ_q / (N T_avg)),  μ_q = 0,
//   dL/dM += κ_x kappaᵀ / tau,  dL/dn += phi (Mᵀ κ_x)ᵀ / (N tau),  dL/dB += κ_x uᵀ / tau,
//   dL/dw += o phi κ_qᵀ / (N T_avg),  dL/db += o Σ κ_q / T_avg.
//
// Memory: the tape holds the accepted states Z_0 .. Z_{S-1} ((N + 1) S B numbers) and the step
// times; the stages are recomputed backward from Z_n (5 f evaluations, since k6 enters no stage
// state, and 6 vector-Jacobian products per step: stats().rhs_backward counts all 11). The tape
// grows by doubling, so a solve allocates only when it takes more steps than any before it; the
// step loops themselves allocate nothing.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <vector>

#include "lrnn/integrate/adaptive_driver.hpp"
#include "lrnn/integrate/gradient_method.hpp"
#include "lrnn/integrate/rnn_rhs.hpp"

namespace lrnn {
namespace detail {
template <typename Scalar>
class RnnVjp;
}  // namespace detail

/// One accepted step [t0, t1] (model time). t1 is exact: a step clipped to a stop time ends on it.
struct StepSpan {
  double t0 = 0.0;
  double t1 = 0.0;
};

template <typename Scalar>
class Rk45Bptt final : public GradientMethod<Scalar> {
 public:
  using Mat = MatX<Scalar>;

  Rk45Bptt(const TimeGrid& grid, const AdaptiveDriverOptions& options);
  ~Rk45Bptt() override;

  /// The adaptive solve; records the accepted steps and states. Throws NumericalError with the
  /// driver's message when the solve fails (max_steps, step size underflow, non-finite state).
  void forward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
               Eigen::Ref<VecX<Scalar>> y_bar) override;

  /// The same discrete computation with given steps instead of the controller: from Z(0) = 0, one
  /// Dormand–Prince step per span, k1 evaluated afresh at t0⁺. The spans must be contiguous from
  /// 0 to T (as steps() returns them). With the steps of a forward() on the same θ it reproduces
  /// that forward() bit for bit; with θ perturbed it is the map whose derivative backward()
  /// computes (finite-difference tests). Records the tape like forward(); stats count no
  /// rejections.
  void forward_replay(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                      std::span<const StepSpan> steps, Eigen::Ref<VecX<Scalar>> y_bar);

  void backward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                const Eigen::Ref<const VecX<Scalar>>& dL_dybar, Params<Scalar>& grad) override;

  SolveStats stats() const override { return stats_; }

  /// The accepted steps of the last forward() or forward_replay().
  std::span<const StepSpan> steps() const { return steps_; }

 private:
  void begin_tape(Index rows, Index cols);
  void record(double t0, double t1, const Mat& Z0);

  TimeGrid grid_;
  AdaptiveDriver<Scalar> driver_;
  RnnRhs<Scalar> rhs_;
  Dopri5<Scalar> stepper_;     ///< for forward_replay
  std::vector<double> stops_;  ///< stop times of the batch
  std::vector<StepSpan> steps_;
  std::vector<StepSpan> replay_;  ///< forward_replay's copy of its spans (they may be steps_)
  Mat tape_;  ///< rows x (capacity B): Z_0 .. Z_{S-1}, the state at the start of each step
  Index n_trials_ = 0;

  // Forward replay buffers.
  Mat Z_, Z1_, k1_, k7_, E_;
  // Backward buffers: stage states, stage adjoints, the state adjoint and one stage's μ.
  std::array<Mat, 6> Y_, kap_;
  Mat lam_, mu_;
  SolveStats stats_;
  std::unique_ptr<detail::RnnVjp<Scalar>> vjp_;  ///< f's vector-Jacobian product and θ sums
};

}  // namespace lrnn
