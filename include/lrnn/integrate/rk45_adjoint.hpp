// Dormand–Prince 5(4) with the continuous adjoint (DESIGN.md section 3, `integrator.method: rk45,
// gradient: adjoint`), after SUNDIALS CVODES's checkpointed adjoint.
//
// Forward: the adaptive solve of RnnRhs's Z = [X; q], storing only the state at up to
// `checkpoints` accepted step boundaries: t = 0 and the first boundary at or after T j / C for
// j = 1 .. C - 1.
//
// Backward: with λ = [λ_x; λ_q], λ(T) = [0; dL/dȳ] (ȳ = q(T)) and f independent of q,
//   dλ/dt = -(∂f/∂Z)ᵀ λ,   i.e.   dλ_x/dt = -(∂f_x/∂X)ᵀ λ_x - [t in W] (∂f_q/∂X)ᵀ λ_q,
//   λ_q constant,           dL/dθ = ∫_0^T λᵀ ∂f/∂θ dt,
// the window's quadrature entering as the source term through ∂f_q/∂X = phi' w / (N T_avg). It is
// solved in reversed time s = T - t with the same stepper, controller and stop times (input jumps,
// T - T_avg; the side of each one-sided limit flips with the time) plus the checkpoint times, so
// no backward step spans two segments. The parameter integrals are taken on each accepted
// backward step by 3-point Gauss–Legendre quadrature (order 6) of λ from the step's dense output
// and X from the forward dense output.
//
// X(t) on the way back comes from the segment [t_c, t_{c+1}] that contains t: replayed forward
// from checkpoint c through the forward's own accepted steps (their times are recorded, O(steps)
// scalars and no states), never integrated backward (the contracting tau dX/dt = -X + ... is
// unstable in reverse). A replay repeats the forward's stages bit for bit, costs 6 right-hand
// sides a step and has no rejected steps or start-up evaluation, and its accepted steps are kept
// as the dense output sampled at θ = 0, 1/4, 1/2, 3/4, 1 (a degree-4 polynomial in θ, so the
// samples reproduce it).
//
// Nested recomputation keeps that bounded, with L = max(C, 2) and P = max(C, 2): the replay of a
// segment keeps its dense output only if it has at most 2 L steps. Otherwise it stores instead the
// state every s steps, s doubling (and every other state dropped) whenever P would be exceeded, so
// between P / 2 and P sub-checkpoints. A run of steps between sub-checkpoints longer than L is
// split the same way, recursively, by a replay of its recorded steps that stores min(P, ceil(n /
// L)) (>= 2) evenly spaced sub-checkpoints. The dense output is kept for a leaf: at most L steps
// ending where the requested time's run ends, replayed from the sub-checkpoint at its start. A
// replay repeats the recorded steps exactly (same t0, t1, X0 and k1, so the same stages, bit for
// bit), so X(t) is the same as if the whole segment had been stored. Two leaves are kept, the one
// being swept and the one after it in t, so a backward step or its quadrature that straddles a leaf
// boundary does not replay. Memory, in (N + 1) x B states: C checkpoints + at most P per level of
// nesting (depth 1 up to about L P steps per segment, then one more per factor P) + 2 (4 L + 1)
// dense samples, independent of T. Work: a segment of at most 2 L steps is replayed once, a longer
// one once more per level, each step about once per level. The adjoint is linear in dL/dȳ and is
// solved for a multiple of it that makes λ_x O(1), so that atol bounds λ_x's error relative to its
// size (backward() explains the factor).
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "lrnn/integrate/adaptive_driver.hpp"
#include "lrnn/integrate/gradient_method.hpp"
#include "lrnn/integrate/rk45_bptt.hpp"
#include "lrnn/integrate/rnn_rhs.hpp"

namespace lrnn {
namespace detail {
template <typename Scalar>
class RnnVjp;
}  // namespace detail

/// Work and memory of the last backward() beyond SolveStats.
struct AdjointStats {
  std::int64_t steps_accepted = 0;  ///< accepted steps of the backward (λ) solve
  std::int64_t steps_rejected = 0;  ///< rejected steps of the backward solve
  std::int64_t rhs_recompute = 0;   ///< f evaluations re-integrating the segments (in rhs_forward)
  std::int64_t segments = 0;        ///< segment re-integrations (adaptive, from a checkpoint)
  std::int64_t replays = 0;         ///< replays of recorded steps (sub-checkpoints or a leaf)
  Index checkpoint_states = 0;      ///< states stored at checkpoints ((N + 1) x B each)
  /// Most states held at once beyond the checkpoints: sub-checkpoints plus dense samples.
  Index peak_segment_states = 0;
  Index depth = 0;  ///< deepest nesting of sub-checkpoint levels (0: segments stored whole)
};

template <typename Scalar>
class Rk45Adjoint final : public GradientMethod<Scalar> {
 public:
  using Mat = MatX<Scalar>;

  /// checkpoints: integrator.checkpoints, >= 1 (ConfigError otherwise).
  Rk45Adjoint(const TimeGrid& grid, const AdaptiveDriverOptions& options, int checkpoints);
  ~Rk45Adjoint() override;

  /// The adaptive solve; stores the checkpoints. Throws NumericalError when the solve fails.
  void forward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
               Eigen::Ref<VecX<Scalar>> y_bar) override;

  void backward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                const Eigen::Ref<const VecX<Scalar>>& dL_dybar, Params<Scalar>& grad) override;

  /// rhs_forward includes the segment re-integrations of backward().
  SolveStats stats() const override { return stats_; }
  const AdjointStats& adjoint_stats() const { return adj_; }

  /// Peak number of (N + 1) x B states held: checkpoints plus sub-checkpoints and dense samples.
  Index stored_states() const { return adj_.checkpoint_states + adj_.peak_segment_states; }

 private:
  static constexpr Index kNodes = 5;  ///< dense-output samples per step, θ = 0, 1/4, .., 1
  static constexpr std::size_t kLeaves = 2;

  /// The dense output of the recorded steps [lo, hi) of the loaded segment, in dense_.
  struct Leaf {
    Index lo = 0, hi = 0;  ///< empty when lo == hi
    Index offset = 0;      ///< first column in dense_
  };
  /// Sub-checkpoints: the states at the starts of the runs begins[j] .. begins[j + 1] (hi for the
  /// last) of the recorded steps [lo, hi).
  struct Level {
    Index lo = 0, hi = 0, parts = 0;  ///< unbuilt when parts == 0
    Mat starts;                       ///< rows x (P B)
    std::vector<Index> begins;        ///< P + 1 entries, parts used
    Index begin(Index j) const { return begins[static_cast<std::size_t>(j)]; }
    Index end(Index j) const { return j + 1 < parts ? begin(j + 1) : hi; }
  };

  void store_checkpoint(double t, const Mat& Z);
  /// X at t (side resolves a segment boundary) into out, re-integrating its segment if needed.
  void state_at(RhsTime t, Mat& out);
  void load_segment(std::size_t c);
  /// The leaf holding recorded step k, replaying from the nearest sub-checkpoint if needed.
  const Leaf& leaf_for(Index k);
  /// Replays recorded steps [lo, hi) from the state in Xr_ at their start, calling obs on each.
  void replay(Index lo, Index hi, StepObserver<Scalar> obs);
  void record_step(Leaf& leaf, const DenseStep<Scalar>& s);
  void note_states();
  /// Sizes level d's buffers; allocates only the first time.
  Level& level(std::size_t d);

  TimeGrid grid_;
  int n_checkpoints_;
  AdaptiveDriver<Scalar> driver_;  ///< the forward and the backward (λ) solves
  RnnRhs<Scalar> rhs_;
  std::unique_ptr<detail::RnnVjp<Scalar>> vjp_;
  const Network<Scalar>* net_ = nullptr;
  const TrialBatch<Scalar>* batch_ = nullptr;

  std::vector<double> stops_;           ///< forward stop times
  std::vector<double> bstops_;          ///< backward stop times in s = T - t, with the checkpoints
  std::vector<double> ckpt_t_;          ///< checkpoint times, ascending, ckpt_t_[0] = 0
  std::vector<StepSpan> fwd_steps_;     ///< the forward's accepted steps (times only)
  std::vector<std::size_t> ckpt_step_;  ///< index in fwd_steps_ of each segment's first step
  Mat ckpt_;                            ///< rows x (C B): the checkpoint states
  std::vector<StepSpan> seg_steps_;     ///< accepted steps of the loaded segment
  Index leaf_steps_ = 0;                ///< L: most steps per leaf
  Index max_parts_ = 0;                 ///< most parts per split
  std::array<Leaf, kLeaves> leaves_;
  Mat dense_;  ///< rows x (2 (4 L + 1) B): the leaves' samples (one segment of <= 2 L steps)
  std::size_t mru_ = 0;            ///< the leaf used last
  std::vector<Level> levels_;      ///< levels_[0] splits the segment, levels_[i + 1] a part of i
  std::ptrdiff_t loaded_ = -1;     ///< the segment of seg_steps_, -1 for none
  Dopri5<Scalar> replay_stepper_;  ///< replays of recorded steps
  Mat Xr_, X1r_, k1r_, k7r_, Er_;  ///< replay buffers
  Index n_trials_ = 0;

  Mat Z_, lam_, x_, kap_;
  Params<Scalar> grad_unit_;  ///< dL/dθ for the normalized dL/dȳ
  SolveStats stats_;
  AdjointStats adj_;
};

}  // namespace lrnn
