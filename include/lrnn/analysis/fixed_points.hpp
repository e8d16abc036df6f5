// Fixed and slow points of a low-rank network under a constant input (Sussillo & Barak 2013;
// Golub's fixed-point-finder), in double whatever the network was trained in:
//
//   tau dx/dt = F(x) = -x + J phi(x) + B u,   J = g C + M nᵀ / N,   phi = tanh,
//   dF/dx     = A(x) = -I + J diag(phi'(x)),  q(x) = |F(x)|² / 2,  ∇q = A(x)ᵀ F(x).
//
// For each constant input ("condition") the finder
//   1. simulates that condition's noise-free trial from x = 0 (u_before for t_before, then u for
//      t_after, Euler at dt) and takes its starts: states along the trial, the end states of every
//      condition's trial (so a basin reached under another input is found too), Gaussian jitter
//      around these and random states;
//   2. relaxes the starts as one batch: half of them follow the flow dx/dt = F(x) (they settle on
//      stable points), the other half descend q with Adam (they also find saddles);
//   3. merges the relaxed states that lie within merge_tol_relaxed of each other, polishes each
//      survivor by damped inexact Newton on F(x) = 0, the steps solved by GMRES with the exact
//      A(x) applied through C and the factors (never formed); a survivor whose Newton does not
//      converge is a slow point, kept with its q when q <= slow_q_max;
//   4. merges the polished points (merge_tol) and classifies each by the leading eigenvalues of
//      A(x), found by Arnoldi with the same products (A is never decomposed): stable (every
//      Re λ < -marginal_tol), marginal (none above marginal_tol, some within it: a line
//      attractor), saddle with k unstable directions (k Ritz values with Re λ > marginal_tol and
//      some stable direction: a converged one, or a negative trace of A), or unstable.
// The trials of each condition are then simulated on with its constant input until |F|₂ <=
// settle_tol and matched to the nearest reported point (in kappa), which says where a trial of
// that condition ends.
#pragma once

#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "lrnn/model/network.hpp"

namespace lrnn {

/// One constant input and the noise-free trial that leads to it.
struct ConstantInput {
  std::string name;          ///< e.g. "ctx1 s1+ s2-" or "ctx2 cue"
  VecX<double> u;            ///< d_in: the constant input whose fixed points are sought
  VecX<double> u_before;     ///< d_in: the input before it (the cue period); empty = zeros
  double t_before = 0.0;     ///< model time under u_before, >= 0
  double t_after = 100.0;    ///< model time under u, > 0
  int target = 0;            ///< the correct side of the readout (+1, -1), 0 = none (cue alone)
  double y_threshold = 0.0;  ///< y above it chooses +1 (0 for pm1 labels, 0.5 for binary)
};

struct FixedPointOptions {
  int starts = 64;                  ///< starts per condition, >= 4
  double dt = 0.1;                  ///< Euler step of the trials and of the settling (model time)
  double relax_dt = 0.5;            ///< Euler step of the flow relaxation (model time), <= tau
  double relax_time = 30.0;         ///< model time of the flow relaxation, >= 0
  int descent_iters = 300;          ///< Adam iterations on q, >= 0
  double descent_lr = 0.02;         ///< Adam learning rate on q (units of x), > 0
  double jitter_std = 0.3;          ///< largest std of the jitter around trial states, >= 0
  double merge_tol_relaxed = 1e-2;  ///< RMS distance per unit under which relaxed states are one
  double merge_tol = 1e-6;          ///< RMS distance per unit under which polished points are one
  double newton_tol = 1e-10;        ///< |F|_inf of a root after Newton, > 0
  int newton_iters = 40;            ///< Newton iterations per point, >= 1
  double slow_q_max = 1e-4;         ///< slow points with q above this are dropped, >= 0
  double marginal_tol = 1e-3;       ///< |Re λ| below this is marginal, >= 0
  int eigenvalues = 6;              ///< leading eigenvalues reported per point, >= 1
  int krylov_dim = 60;              ///< Arnoldi's Krylov dimension (capped at N), >= 2
  double settle_tol = 1e-6;         ///< |F|₂ the trial end states are run on to, > 0
  double settle_time_max = 2000.0;  ///< model time the settling may take, > 0
  std::uint64_t seed = 0;           ///< key of the jitter and random starts
  int threads = 1;                  ///< conditions solved in parallel, >= 1

  /// False with a one-line reason (field, value, rule) in *error if a field is out of range.
  bool IsValid(std::string* error) const;
};

enum class PointKind { kStable, kMarginal, kSaddle, kUnstable, kSlow };
const char* to_string(PointKind kind);

struct FixedPoint {
  VecX<double> x;       ///< N: the state
  VecX<double> kappa;   ///< R: nᵀ phi(x) / N
  VecX<double> coords;  ///< R: coordinates of x along the m_r, (MᵀM)⁻¹ Mᵀ x
  double y = 0.0;       ///< readout wᵀ phi(x) / N + b
  double F_norm = 0.0;  ///< |F(x)|₂
  double q = 0.0;       ///< |F(x)|² / 2
  bool root = false;    ///< Newton converged (|F|_inf <= newton_tol); false: a slow point
  PointKind kind = PointKind::kSlow;
  int unstable = 0;  ///< eigenvalues with Re λ > marginal_tol
  /// Leading eigenvalues of A(x) by decreasing real part (Ritz values), and their residuals.
  std::vector<std::complex<double>> eigenvalues;
  std::vector<double> residuals;
  int starts = 0;  ///< starts that ended here
};

/// Where a condition's noise-free trial ends.
struct TrialEnd {
  VecX<double> kappa;          ///< R, at the end of the trial (t_before + t_after)
  double y = 0.0;              ///< readout there
  VecX<double> settled_kappa;  ///< R, after settling under u
  double settled_y = 0.0;
  double settled_F_norm = 0.0;  ///< |F|₂ after settling (<= settle_tol unless it timed out)
  double settle_time = 0.0;     ///< model time the settling took
  int point = -1;               ///< index of the nearest reported point (in kappa), -1 if none
  double kappa_distance = 0.0;  ///< |kappa - that point's kappa|₂
};

struct ConditionPoints {
  ConstantInput input;
  std::vector<FixedPoint> points;  ///< roots by stability (stable first), then slow points
  TrialEnd trial;
  int candidates = 0;         ///< relaxed states left after the first merge (Newton solves)
  int newton_iterations = 0;  ///< over all of them
};

struct FixedPointReport {
  FixedPointOptions options;
  Dims dims;
  double g = 0.0;
  double tau = 0.0;
  std::vector<ConditionPoints> conditions;
  double wall_time_s = 0.0;
};

/// Finds the fixed and slow points of `net` for every input; conditions run in parallel.
/// Throws std::invalid_argument if the options are invalid or an input has the wrong size.
FixedPointReport find_fixed_points(const Network<double>& net,
                                   const std::vector<ConstantInput>& inputs,
                                   const FixedPointOptions& options = {});

/// Whether the trial of condition `c` settled on a stable point within `kappa_tol` (in kappa) of
/// it: the check of issue 14 uses 1e-4.
bool trial_lands_on_stable_point(const ConditionPoints& c, double kappa_tol = 1e-4);

/// Whether a point's readout chooses the condition's target (true when there is none).
bool readout_correct(const ConstantInput& input, const FixedPoint& point);

// The pieces, for tests and for the flow field.

/// The noise-free trial of `input` from x(0) = 0 (u_before for t_before, then u for t_after; Euler
/// at dt): x(0) and the state after every `every` steps (N x (1 + steps / every)).
MatX<double> trial_states(const Network<double>& net, const ConstantInput& input, double dt,
                          Index every);

/// Step 2 on the columns of X (N x S): even columns follow the flow for relax_time, odd ones
/// descend q with Adam for descent_iters; allocates nothing per step.
void relax_starts(const Network<double>& net, const VecX<double>& u,
                  const FixedPointOptions& options, MatX<double>& X);

/// F(X) for the columns of X (N x S) under the constant input u.
MatX<double> dynamics_rhs(const Network<double>& net, const VecX<double>& u, const MatX<double>& X);

/// ∇q(x) = A(x)ᵀ F(x) for the columns of X, through C and the factors.
MatX<double> slowness_gradient(const Network<double>& net, const VecX<double>& u,
                               const MatX<double>& X);

/// A(x) = -I + J diag(phi'(x)), formed (N x N): for tests (the finder only applies it).
MatX<double> dynamics_jacobian(const Network<double>& net, const VecX<double>& x);

struct NewtonResult {
  VecX<double> x;
  double F_inf = 0.0;  ///< |F(x)|_inf at the end
  int iterations = 0;
  bool converged = false;
};

/// Damped inexact Newton on F(x) = 0 from x0: the GMRES step, halved until |F|₂ decreases.
NewtonResult newton_solve(const Network<double>& net, const VecX<double>& u, const VecX<double>& x0,
                          double tol, int max_iters);

struct RitzValues {
  std::vector<std::complex<double>> values;  ///< by decreasing real part
  std::vector<double> residuals;             ///< |A v - λ v|₂ of each Ritz pair (|v| = 1)
};

/// The Ritz values of A(x) from `krylov_dim` Arnoldi steps (fewer on an invariant subspace),
/// products through C and the factors; the rightmost eigenvalues converge first.
RitzValues leading_eigenvalues(const Network<double>& net, const VecX<double>& x, int krylov_dim);

}  // namespace lrnn
