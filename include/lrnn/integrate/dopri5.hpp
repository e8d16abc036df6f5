// The Dormand–Prince 5(4) step (Dormand & Prince 1980, RK5(4)7M; Hairer, Nørsett & Wanner,
// Solving ODEs I, II.5 table 5.2 and II.6 for the dense output), or the Tsitouras 5(4) step
// (RkScheme::kTsit5, src/integrate/tsit5_tableau.hpp: same shape, its own coefficients and
// interpolant), on a whole batch: the state X is a rows x B matrix, one column per trial, and the
// right-hand side maps it to dX/dt in one call.
//
// One step from (t0, X0) with h = t1 - t0 and k1 = f(t0, X0):
//   k_i = f(t0 + c_i h, X0 + h Σ_{j<i} a_ij k_j),  i = 2 .. 7,
//   X1  = X0 + h Σ b_i k_i                  (5th order; b_i = a_7i, so k7 = f(t1, X1): FSAL),
//   E   = h Σ (b_i - b̂_i) k_i               (X1 minus the embedded 4th-order solution),
//   X(t0 + θh) ≈ X0 + h Σ b_i(θ) k_i,  θ ∈ [0, 1]   (Shampine's 4th-order dense output, as in
//   Hairer's DOPRI5 code: b_i(θ) = θ²(3 - 2θ) b_i + θ(1-θ)² [i=1] - θ²(1-θ) [i=7] + θ²(1-θ)² d_i).
//
// The stepper keeps the stages k2 .. k6 and one stage state, sized once by resize(); it keeps no
// trajectory: X0, k1, X1, k7 and E belong to the caller (the driver swaps k7 into k1 after an
// accepted step). step() and dense() allocate nothing.
#pragma once

#include "lrnn/core/function_ref.hpp"
#include "lrnn/core/types.hpp"

namespace lrnn {

/// Which one-sided limit a right-hand side with a jump at t must use. The last stages of a step
/// that ends on a jump at t1 belong to [t0, t1] and see the input to the left of it; the first
/// stage of the next step sees the input to the right (diffrax issues #363, #766).
enum class Side { kRight, kLeft };

/// The time at which the right-hand side is evaluated. It converts to double, so a right-hand side
/// without jumps can take `double t` and ignore the side.
struct RhsTime {
  double t = 0.0;
  Side side = Side::kRight;
  operator double() const noexcept { return t; }  // NOLINT(google-explicit-constructor)
};

/// f(t, X, dXdt): writes dX/dt at (t, X) into dXdt, which has X's shape. Must not resize dXdt.
template <typename Scalar>
using Rhs = FunctionRef<void(RhsTime, const MatX<Scalar>&, MatX<Scalar>&)>;

/// The embedded 5(4) pair a stepper runs: both have 7 stages, FSAL, c6 = c7 = 1, a 5th-order
/// step, a 4th-order error estimate and a 4th-order dense output that is a quartic in θ.
enum class RkScheme {
  kDopri5,  ///< Dormand–Prince RK5(4)7M with Shampine's dense output (integrator.method: rk45)
  kTsit5,   ///< Tsitouras 5(4) with its own interpolant (integrator.method: tsit5; diffrax's Tsit5)
};

template <typename Scalar>
class Dopri5 {
 public:
  using Mat = MatX<Scalar>;

  explicit Dopri5(RkScheme scheme = RkScheme::kDopri5) : scheme_(scheme) {}
  RkScheme scheme() const { return scheme_; }

  static constexpr int kOrder = 5;          ///< order of X1
  static constexpr int kEmbeddedOrder = 4;  ///< order of the solution behind E
  static constexpr int kDenseOrder = 4;     ///< order of the dense output
  static constexpr int kStages = 7;

  /// Sizes the stage buffers for rows x cols states. Cheap when the shape is unchanged.
  void resize(Index rows, Index cols);

  /// One step from t0 to t1 (> t0). k1 = f(t0, X0) on input; writes X1, k7 = f(t1⁻, X1) and E.
  /// Stages with c_i = 1 are evaluated at t1 exactly, with Side::kLeft. X1, k7 and E must already
  /// have X0's shape and must not alias X0 or k1.
  void step(Rhs<Scalar> f, double t0, double t1, const Mat& X0, const Mat& k1, Mat& X1, Mat& k7,
            Mat& E);

  /// The dense output of the last step at t0 + θ h (θ in [0, 1]): out = X0 + h Σ b_i(θ) k_i.
  /// X0, k1 and k7 are the ones of that step; valid until the next step().
  void dense(double theta, double h, const Mat& X0, const Mat& k1, const Mat& k7, Mat& out) const;

  /// The stage states Y_i = X0 + h Σ_{j<i} a_ij k_j (i = 2 .. 6, into Y[0] .. Y[4]) and the stages
  /// k_2 .. k_5 (into k[0] .. k[3]) of the step from (t0, X0) with k1 = f(t0, X0), bit for bit
  /// those of step(): what a discrete adjoint needs to reverse it (k6 enters no stage state). Y
  /// and k must be sized like X0 and alias neither X0 nor k1.
  void stages(Rhs<Scalar> f, double t0, double t1, const Mat& X0, const Mat& k1, Mat* const Y[5],
              Mat* const k[4]) const;

 private:
  // The stage states Y_2 .. Y_6 and stages k_2 .. k_5, shared by step() and stages(); Y may name
  // one buffer five times.
  void stage_states(Rhs<Scalar> f, double t0, double t1, const Mat& X0, const Mat& k1,
                    Mat* const Y[5], Mat* const K[4]) const;
  // Each scheme's own end of a step from its stages: X1 by the b_i, k7 = f(t1⁻, X1), E by the e_i.
  void finish_dopri5(Rhs<Scalar> f, double t1, double h, const Mat& X0, const Mat& k1, Mat& X1,
                     Mat& k7, Mat& E) const;
  void finish_tsit5(Rhs<Scalar> f, double t1, double h, const Mat& X0, const Mat& k1, Mat& X1,
                    Mat& k7, Mat& E) const;

  RkScheme scheme_;
  Mat Xs_;                      ///< stage state X0 + h Σ a_ij k_j
  Mat k2_, k3_, k4_, k5_, k6_;  ///< stages 2 .. 6
};

}  // namespace lrnn
