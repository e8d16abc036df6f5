#include "lrnn/analysis/fixed_points.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <Eigen/LU>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <stdexcept>

#include "integrate/bulk_product.hpp"
#include "lrnn/core/random.hpp"

namespace lrnn {
namespace {

using Complex = std::complex<double>;

// Ritz values with a residual below this count for the classification; the others are reported
// but may still move (the Krylov space is too small for them).
constexpr double kRitzConverged = 1e-6;

// Krylov dimension of the linear solves in Newton: A = -I + J diag(phi') has its spectrum near -1
// but for R outliers and a bulk of radius < 1, so GMRES converges in a few tens of steps.
constexpr int kGmresDim = 80;

// tanh through exp, which Eigen vectorises for double (its tanh is scalar for double):
// 1 - 2 / (e^{2x} + 1) has an absolute error of a few ulp, and saturates correctly at ±inf.
template <typename Derived>
auto tanh_expr(const Eigen::ArrayBase<Derived>& x) {
  return 1.0 - 2.0 / ((2.0 * x).exp() + 1.0);
}

VecX<double> tanh_of(const VecX<double>& x) { return tanh_expr(x.array()).matrix(); }

// out = A v = -v + g C (d ∘ v) + M (nᵀ (d ∘ v)) / N, with d = phi'(x).
void apply_jacobian(const Network<double>& net, const VecX<double>& d, const VecX<double>& v,
                    VecX<double>& out) {
  const VecX<double> dv = d.cwiseProduct(v);
  out.noalias() = net.g * net.C * dv;
  out.noalias() +=
      net.theta.M() * ((net.theta.n().transpose() * dv) / static_cast<double>(v.size()));
  out -= v;
}

// GMRES without restarts (Saad & Schultz 1986) for A x = b from x = 0, with Givens rotations;
// stops at |b - A x| <= rtol |b| or after `dim` steps. Buffers are kept between solves.
class Gmres {
 public:
  Gmres(Index n, int dim) : V_(n, dim + 1), H_(MatX<double>::Zero(dim + 1, dim)), w_(n) {
    cs_.resize(dim);
    sn_.resize(dim);
    g_.resize(dim + 1);
  }

  template <typename Apply>
  void solve(const Apply& apply, const VecX<double>& b, double rtol, VecX<double>& x) {
    const auto dim = static_cast<Index>(cs_.size());
    const double beta = b.norm();
    x.setZero();
    if (beta == 0.0) return;
    H_.setZero();
    g_.setZero();
    g_[0] = beta;
    V_.col(0) = b / beta;
    Index k = 0;
    for (Index j = 0; j < dim; ++j) {
      apply(V_.col(j), w_);
      for (int pass = 0; pass < 2; ++pass) {
        for (Index i = 0; i <= j; ++i) {
          const double h = V_.col(i).dot(w_);
          H_(i, j) += h;
          w_ -= h * V_.col(i);
        }
      }
      const double hn = w_.norm();
      H_(j + 1, j) = hn;
      for (Index i = 0; i < j; ++i) rotate(i, H_(i, j), H_(i + 1, j));
      const double rho = std::hypot(H_(j, j), H_(j + 1, j));
      cs_[j] = H_(j, j) / rho;
      sn_[j] = H_(j + 1, j) / rho;
      H_(j, j) = rho;
      H_(j + 1, j) = 0.0;
      g_[j + 1] = -sn_[j] * g_[j];
      g_[j] = cs_[j] * g_[j];
      k = j + 1;
      if (std::abs(g_[j + 1]) <= rtol * beta || hn == 0.0) break;
      V_.col(j + 1) = w_ / hn;
    }
    const VecX<double> y = H_.topLeftCorner(k, k).triangularView<Eigen::Upper>().solve(g_.head(k));
    x.noalias() = V_.leftCols(k) * y;
  }

 private:
  void rotate(Index i, double& a, double& b) const {
    const double t = cs_[i] * a + sn_[i] * b;
    b = -sn_[i] * a + cs_[i] * b;
    a = t;
  }

  MatX<double> V_, H_;
  VecX<double> w_, cs_, sn_, g_;
};

Index trial_steps(double t, double dt, Index at_least) {
  return std::max<Index>(at_least, static_cast<Index>(std::llround(t / dt)));
}

// Buffers of the batched flow and descent: sized once per condition, reused by every step. For
// the loops over a batch C is packed once (BulkProduct), so that g C phi and g Cᵀ F allocate
// nothing (Eigen's GEMM would allocate its packing buffers at every product); one column needs
// no packing (Eigen's GEMV allocates nothing) and one-off products are not worth it.
struct BatchWork {
  MatX<double> phi, F, G, K, Z;
  detail::BulkProduct<double> bulk;
  bool packed = false;
  void resize(const Network<double>& net, Index S, bool pack = false) {
    const Index N = net.dims().N, R = net.dims().R;
    phi.resize(N, S);
    F.resize(N, S);
    G.resize(N, S);
    K.resize(R, S);
    Z.resize(R, S);
    packed = pack;
    if (!pack) return;
    bulk.reserve(N, S);
    bulk.pack(net.C,
              detail::BulkProduct<double>::kForward | detail::BulkProduct<double>::kTransposed);
  }
};

// F = -X + g C phi + M (nᵀ phi / N) + B u for the columns of X, into w.F (no allocation).
void rhs_into(const Network<double>& net, const VecX<double>& Bu, const MatX<double>& X,
              BatchWork& w) {
  const auto& th = net.theta;
  const double inv_N = 1.0 / static_cast<double>(X.rows());
  w.phi = tanh_expr(X.array());
  if (w.packed) {
    w.F.setZero();
    w.bulk.add(net.g, net.C, w.phi, w.F);
  } else {
    w.F.noalias() = net.g * net.C * w.phi;
  }
  w.K.noalias() = inv_N * th.n().transpose() * w.phi;
  w.F.noalias() += th.M() * w.K;
  w.F -= X;
  w.F.colwise() += Bu;
}

// w.G = A(X)ᵀ F = -F + phi'(X) ∘ (g Cᵀ F + n (Mᵀ F) / N), after rhs_into (w.phi, w.F set).
void gradient_into(const Network<double>& net, BatchWork& w) {
  const auto& th = net.theta;
  const double inv_N = 1.0 / static_cast<double>(w.F.rows());
  if (w.packed) {
    w.G.setZero();
    w.bulk.add_transposed(net.g, net.C, w.F, w.G);
  } else {
    w.G.noalias() = net.g * net.C.transpose() * w.F;
  }
  w.Z.noalias() = inv_N * th.M().transpose() * w.F;
  w.G.noalias() += th.n() * w.Z;
  w.G.array() *= 1.0 - w.phi.array().square();
  w.G -= w.F;
}

double rms_distance(const VecX<double>& a, const VecX<double>& b) {
  return (a - b).norm() / std::sqrt(static_cast<double>(a.size()));
}

VecX<double> kappa_of(const Network<double>& net, const VecX<double>& x) {
  return net.theta.n().transpose() * tanh_of(x) / static_cast<double>(x.size());
}

double readout_of(const Network<double>& net, const VecX<double>& x) {
  return net.theta.w().dot(tanh_of(x)) / static_cast<double>(x.size()) + net.theta.b();
}

// The noise-free trial of one condition: x(0) = 0, u_before then u, Euler at dt. `observe(k,
// after, X)` sees the state after each step k (1-based), `after` steps into the u period (0 in
// the period before).
template <typename Observe>
void run_trial(const Network<double>& net, const ConstantInput& in, double dt, Observe&& observe) {
  const Index N = net.dims().N;
  const VecX<double> u_before =
      in.u_before.size() > 0 ? in.u_before : VecX<double>::Zero(in.u.size());
  const VecX<double> Bu_before = net.theta.B() * u_before;
  const VecX<double> Bu = net.theta.B() * in.u;
  const Index before_steps = trial_steps(in.t_before, dt, 0);
  const Index after_steps = trial_steps(in.t_after, dt, 1);
  const double a = dt / net.tau;
  BatchWork w;
  w.resize(net, 1);
  MatX<double> X = MatX<double>::Zero(N, 1);
  for (Index k = 1; k <= before_steps + after_steps; ++k) {
    rhs_into(net, k <= before_steps ? Bu_before : Bu, X, w);
    X.noalias() += a * w.F;
    observe(k, std::max<Index>(0, k - before_steps), X);
  }
}

// The states at `samples` evenly spaced times of the u period: sample j after step
// ceil((j + 1) after_steps / samples) of it, the last at the end.
MatX<double> simulate_trial(const Network<double>& net, const ConstantInput& in, double dt,
                            Index samples) {
  const Index after_steps = trial_steps(in.t_after, dt, 1);
  MatX<double> out(net.dims().N, samples);
  Index next = 0;
  run_trial(net, in, dt, [&](Index, Index after, const MatX<double>& X) {
    while (after > 0 && next < samples && after * samples >= (next + 1) * after_steps) {
      out.col(next++) = X.col(0);
    }
  });
  return out;
}

// Runs x on under u (Euler at dt) until |F|₂ <= tol or max_time has passed.
void settle(const Network<double>& net, const VecX<double>& u, VecX<double>& x, double dt,
            double tol, double max_time, double& time, double& F_norm) {
  const VecX<double> Bu = net.theta.B() * u;
  BatchWork w;
  w.resize(net, 1);
  MatX<double> X = x;
  const double a = dt / net.tau;
  const auto max_steps = static_cast<Index>(std::ceil(max_time / dt));
  Index k = 0;
  rhs_into(net, Bu, X, w);
  while (w.F.norm() > tol && k < max_steps) {
    X.noalias() += a * w.F;
    rhs_into(net, Bu, X, w);
    ++k;
  }
  x = X.col(0);
  time = static_cast<double>(k) * dt;
  F_norm = w.F.norm();
}

// The starts of one condition: its trial's states, every condition's end state, jitter around
// these and random states, as columns.
MatX<double> make_starts(const MatX<double>& own_trial, const MatX<double>& all_ends,
                         const FixedPointOptions& o, std::uint64_t condition) {
  const Index N = own_trial.rows();
  const auto S = static_cast<Index>(o.starts);
  const Index n_random = std::max<Index>(1, S / 8);
  MatX<double> base(N, own_trial.cols() + all_ends.cols());
  base << own_trial, all_ends;
  const Index n_base = std::min(base.cols(), S - n_random);
  MatX<double> starts(N, S);
  starts.leftCols(n_base) = base.leftCols(n_base);
  // Random states as wide as the trial's end state, and never narrower than the widest jitter.
  const double scale = std::max(
      o.jitter_std, own_trial.col(own_trial.cols() - 1).norm() / std::sqrt(static_cast<double>(N)));
  const double jitter[3] = {o.jitter_std / 9.0, o.jitter_std / 3.0, o.jitter_std};
  for (Index j = n_base; j < S; ++j) {
    Philox rng(o.seed, Stream::kFixedPointStarts,
               (condition << 32) | static_cast<std::uint64_t>(j));
    const bool random = j >= S - n_random;
    const double s = random ? scale : jitter[j % 3];
    for (Index i = 0; i < N; ++i) starts(i, j) = s * rng.normal();
    if (!random) starts.col(j) += base.col((j - n_base) % base.cols());
  }
  return starts;
}

// Stage 2: the even columns follow the flow, the odd ones descend q with Adam.
void relax_batch(const Network<double>& net, const VecX<double>& u, const FixedPointOptions& o,
                 MatX<double>& X) {
  const Index N = X.rows(), S = X.cols();
  const Index S_flow = (S + 1) / 2, S_desc = S / 2;
  MatX<double> flow(N, S_flow), desc(N, S_desc);
  for (Index j = 0; j < S; ++j) (j % 2 == 0 ? flow.col(j / 2) : desc.col(j / 2)) = X.col(j);
  const VecX<double> Bu = net.theta.B() * u;
  BatchWork w;
  w.resize(net, S_flow, true);
  const auto flow_steps = static_cast<Index>(std::llround(o.relax_time / o.relax_dt));
  const double a = o.relax_dt / net.tau;
  for (Index k = 0; k < flow_steps; ++k) {
    rhs_into(net, Bu, flow, w);
    flow.noalias() += a * w.F;
  }
  if (S_desc > 0 && o.descent_iters > 0) {
    w.resize(net, S_desc, true);
    MatX<double> m1 = MatX<double>::Zero(N, S_desc), m2 = MatX<double>::Zero(N, S_desc);
    constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-12;
    double b1 = 1.0, b2 = 1.0;
    for (int k = 0; k < o.descent_iters; ++k) {
      rhs_into(net, Bu, desc, w);
      gradient_into(net, w);
      b1 *= kBeta1;
      b2 *= kBeta2;
      m1 = kBeta1 * m1 + (1.0 - kBeta1) * w.G;
      m2.array() = kBeta2 * m2.array() + (1.0 - kBeta2) * w.G.array().square();
      const double step = o.descent_lr * std::sqrt(1.0 - b2) / (1.0 - b1);
      desc.array() -= step * m1.array() / (m2.array().sqrt() + kEps);
    }
  }
  for (Index j = 0; j < S; ++j) X.col(j) = j % 2 == 0 ? flow.col(j / 2) : desc.col(j / 2);
}

struct Candidate {
  VecX<double> x;
  double q = 0.0;
  int starts = 1;
};

// Greedy merge: lowest q first, a candidate within tol (RMS per unit) of a kept one joins it.
std::vector<Candidate> merge(std::vector<Candidate> c, double tol) {
  std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.q < b.q; });
  std::vector<Candidate> kept;
  for (Candidate& cand : c) {
    auto it = std::find_if(kept.begin(), kept.end(),
                           [&](const Candidate& k) { return rms_distance(k.x, cand.x) < tol; });
    if (it != kept.end()) {
      it->starts += cand.starts;
    } else {
      kept.push_back(std::move(cand));
    }
  }
  return kept;
}

// trace A(x) = -N + Σ_i phi'(x_i) (g C_ii + Σ_r M_ir n_ir / N): the sum of all N eigenvalues, so a
// negative trace proves a stable direction that Arnoldi need not have resolved.
double jacobian_trace(const Network<double>& net, const VecX<double>& x) {
  const VecX<double> d = 1.0 - tanh_of(x).array().square();
  const VecX<double> diag_J =
      net.g * net.C.diagonal() +
      (net.theta.M().cwiseProduct(net.theta.n())).rowwise().sum() / static_cast<double>(x.size());
  return d.dot(diag_J) - static_cast<double>(x.size());
}

void classify(FixedPoint& p, const RitzValues& ritz, double trace, const FixedPointOptions& o) {
  std::vector<Complex> used;
  for (std::size_t i = 0; i < ritz.values.size(); ++i) {
    if (ritz.residuals[i] <= kRitzConverged * std::max(1.0, std::abs(ritz.values[i]))) {
      used.push_back(ritz.values[i]);
    }
  }
  if (used.empty()) used = ritz.values;
  p.unstable = 0;
  bool marginal = false, any_stable = trace < 0.0;
  for (const Complex& l : used) {
    if (l.real() > o.marginal_tol) {
      ++p.unstable;
    } else if (l.real() >= -o.marginal_tol) {
      marginal = true;
    } else {
      any_stable = true;
    }
  }
  if (!p.root) {
    p.kind = PointKind::kSlow;
  } else if (p.unstable > 0) {
    p.kind = any_stable || marginal ? PointKind::kSaddle : PointKind::kUnstable;
  } else {
    p.kind = marginal ? PointKind::kMarginal : PointKind::kStable;
  }
  const std::size_t k = std::min(ritz.values.size(), static_cast<std::size_t>(o.eigenvalues));
  p.eigenvalues.assign(ritz.values.begin(), ritz.values.begin() + static_cast<std::ptrdiff_t>(k));
  p.residuals.assign(ritz.residuals.begin(),
                     ritz.residuals.begin() + static_cast<std::ptrdiff_t>(k));
}

FixedPoint describe(const Network<double>& net, const VecX<double>& u, const Candidate& c,
                    bool root, const MatX<double>& pinv_M, const FixedPointOptions& o) {
  FixedPoint p;
  p.x = c.x;
  p.kappa = kappa_of(net, c.x);
  p.coords = pinv_M * c.x;
  p.y = readout_of(net, c.x);
  const MatX<double> F = dynamics_rhs(net, u, c.x);
  p.F_norm = F.norm();
  p.q = 0.5 * F.squaredNorm();
  p.root = root;
  p.starts = c.starts;
  classify(p, leading_eigenvalues(net, c.x, o.krylov_dim), jacobian_trace(net, c.x), o);
  return p;
}

int kind_rank(PointKind k) { return static_cast<int>(k); }

std::vector<FixedPoint> solve_condition(const Network<double>& net, const ConstantInput& in,
                                        const MatX<double>& starts, const MatX<double>& pinv_M,
                                        const FixedPointOptions& o, ConditionPoints& stats) {
  MatX<double> X = starts;
  relax_batch(net, in.u, o, X);
  const MatX<double> F = dynamics_rhs(net, in.u, X);
  std::vector<Candidate> relaxed;
  for (Index j = 0; j < X.cols(); ++j) {
    if (!X.col(j).allFinite()) continue;
    relaxed.push_back({X.col(j), 0.5 * F.col(j).squaredNorm(), 1});
  }
  relaxed = merge(std::move(relaxed), o.merge_tol_relaxed);

  std::vector<Candidate> roots, slow;
  stats.candidates = static_cast<int>(relaxed.size());
  for (const Candidate& c : relaxed) {
    const NewtonResult nr = newton_solve(net, in.u, c.x, o.newton_tol, o.newton_iters);
    stats.newton_iterations += nr.iterations;
    if (nr.converged) {
      roots.push_back({nr.x, 0.5 * dynamics_rhs(net, in.u, nr.x).squaredNorm(), c.starts});
    } else if (c.q <= o.slow_q_max) {
      slow.push_back(c);
    }
  }
  roots = merge(std::move(roots), o.merge_tol);
  std::vector<FixedPoint> points;
  for (const Candidate& c : roots) points.push_back(describe(net, in.u, c, true, pinv_M, o));
  // A slow point near a root is that root seen from afar.
  for (const Candidate& c : slow) {
    const bool near_root = std::any_of(roots.begin(), roots.end(), [&](const Candidate& r) {
      return rms_distance(r.x, c.x) < o.merge_tol_relaxed;
    });
    if (!near_root) points.push_back(describe(net, in.u, c, false, pinv_M, o));
  }
  std::stable_sort(points.begin(), points.end(), [](const FixedPoint& a, const FixedPoint& b) {
    if (a.kind != b.kind) return kind_rank(a.kind) < kind_rank(b.kind);
    return a.kappa[0] < b.kappa[0];
  });
  return points;
}

TrialEnd trial_end(const Network<double>& net, const ConstantInput& in, const VecX<double>& end,
                   const std::vector<FixedPoint>& points, const FixedPointOptions& o) {
  TrialEnd t;
  t.kappa = kappa_of(net, end);
  t.y = readout_of(net, end);
  VecX<double> x = end;
  settle(net, in.u, x, o.dt, o.settle_tol, o.settle_time_max, t.settle_time, t.settled_F_norm);
  t.settled_kappa = kappa_of(net, x);
  t.settled_y = readout_of(net, x);
  double best = 0.0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const double d = (points[i].kappa - t.settled_kappa).norm();
    if (t.point < 0 || d < best) {
      best = d;
      t.point = static_cast<int>(i);
    }
  }
  t.kappa_distance = best;
  return t;
}

}  // namespace

bool FixedPointOptions::IsValid(std::string* error) const {
  const auto bad = [error](const std::string& what) {
    if (error) *error = what;
    return false;
  };
  if (starts < 4) return bad(fmt::format("starts = {}: must be >= 4", starts));
  if (!(dt > 0)) return bad(fmt::format("dt = {}: must be > 0", dt));
  if (!(relax_dt > 0)) return bad(fmt::format("relax_dt = {}: must be > 0", relax_dt));
  if (!(relax_time >= 0)) return bad(fmt::format("relax_time = {}: must be >= 0", relax_time));
  if (descent_iters < 0) return bad(fmt::format("descent_iters = {}: must be >= 0", descent_iters));
  if (!(descent_lr > 0)) return bad(fmt::format("descent_lr = {}: must be > 0", descent_lr));
  if (!(jitter_std >= 0)) return bad(fmt::format("jitter_std = {}: must be >= 0", jitter_std));
  if (!(merge_tol_relaxed > 0) || !(merge_tol > 0)) return bad("merge tolerances must be > 0");
  if (!(newton_tol > 0)) return bad(fmt::format("newton_tol = {}: must be > 0", newton_tol));
  if (newton_iters < 1) return bad(fmt::format("newton_iters = {}: must be >= 1", newton_iters));
  if (!(slow_q_max >= 0)) return bad(fmt::format("slow_q_max = {}: must be >= 0", slow_q_max));
  if (!(marginal_tol >= 0))
    return bad(fmt::format("marginal_tol = {}: must be >= 0", marginal_tol));
  if (eigenvalues < 1) return bad(fmt::format("eigenvalues = {}: must be >= 1", eigenvalues));
  if (krylov_dim < 2) return bad(fmt::format("krylov_dim = {}: must be >= 2", krylov_dim));
  if (!(settle_tol > 0)) return bad(fmt::format("settle_tol = {}: must be > 0", settle_tol));
  if (!(settle_time_max > 0)) return bad("settle_time_max must be > 0");
  if (threads < 1) return bad(fmt::format("threads = {}: must be >= 1", threads));
  return true;
}

bool trial_lands_on_stable_point(const ConditionPoints& c, double kappa_tol) {
  if (c.trial.point < 0) return false;
  const FixedPoint& p = c.points[static_cast<std::size_t>(c.trial.point)];
  return p.kind == PointKind::kStable && c.trial.kappa_distance <= kappa_tol;
}

bool readout_correct(const ConstantInput& input, const FixedPoint& point) {
  return input.target == 0 || (point.y > input.y_threshold) == (input.target > 0);
}

const char* to_string(PointKind kind) {
  switch (kind) {
    case PointKind::kStable:
      return "stable";
    case PointKind::kMarginal:
      return "marginal";
    case PointKind::kSaddle:
      return "saddle";
    case PointKind::kUnstable:
      return "unstable";
    case PointKind::kSlow:
      return "slow";
  }
  return "?";
}

void relax_starts(const Network<double>& net, const VecX<double>& u,
                  const FixedPointOptions& options, MatX<double>& X) {
  relax_batch(net, u, options, X);
}

MatX<double> dynamics_rhs(const Network<double>& net, const VecX<double>& u,
                          const MatX<double>& X) {
  BatchWork w;
  w.resize(net, X.cols());
  rhs_into(net, net.theta.B() * u, X, w);
  return w.F;
}

MatX<double> slowness_gradient(const Network<double>& net, const VecX<double>& u,
                               const MatX<double>& X) {
  BatchWork w;
  w.resize(net, X.cols());
  rhs_into(net, net.theta.B() * u, X, w);
  gradient_into(net, w);
  return w.G;
}

MatX<double> dynamics_jacobian(const Network<double>& net, const VecX<double>& x) {
  const Index N = x.size();
  const VecX<double> d = 1.0 - tanh_of(x).array().square();
  MatX<double> A = net.g * net.C;
  A.noalias() += net.theta.M() * net.theta.n().transpose() / static_cast<double>(N);
  A = A * d.asDiagonal();
  A.diagonal().array() -= 1.0;
  return A;
}

NewtonResult newton_solve(const Network<double>& net, const VecX<double>& u, const VecX<double>& x0,
                          double tol, int max_iters) {
  constexpr int kMaxHalvings = 12;
  NewtonResult r;
  r.x = x0;
  VecX<double> F = dynamics_rhs(net, u, r.x);
  Gmres gmres(x0.size(), kGmresDim);
  VecX<double> dx(x0.size());
  for (r.iterations = 0; r.iterations < max_iters; ++r.iterations) {
    r.F_inf = F.cwiseAbs().maxCoeff();
    if (r.F_inf <= tol) break;
    // Inexact Newton (Eisenstat-Walker's choice 2 in its simplest form): a linear residual of
    // min(0.1, |F|) relative keeps the outer convergence quadratic near the root.
    const VecX<double> d = 1.0 - tanh_of(r.x).array().square();
    gmres.solve([&](const VecX<double>& v, VecX<double>& out) { apply_jacobian(net, d, v, out); },
                -F, std::min(0.1, F.norm()) * 1e-2, dx);
    if (!dx.allFinite()) break;
    double step = 1.0;
    bool accepted = false;
    for (int h = 0; h < kMaxHalvings && !accepted; ++h, step *= 0.5) {
      const VecX<double> trial = r.x + step * dx;
      const VecX<double> Ft = dynamics_rhs(net, u, trial);
      if (Ft.norm() < (1.0 - 1e-4 * step) * F.norm()) {
        r.x = trial;
        F = Ft;
        accepted = true;
      }
    }
    if (!accepted) break;
  }
  r.F_inf = F.cwiseAbs().maxCoeff();
  r.converged = r.F_inf <= tol;
  return r;
}

RitzValues leading_eigenvalues(const Network<double>& net, const VecX<double>& x, int krylov_dim) {
  const Index N = x.size();
  const Index m = std::min<Index>(krylov_dim, N);
  const VecX<double> d = 1.0 - tanh_of(x).array().square();
  MatX<double> V(N, m + 1);
  MatX<double> H = MatX<double>::Zero(m + 1, m);
  Philox rng(0, Stream::kFixedPointStarts, ~std::uint64_t{0});
  for (Index i = 0; i < N; ++i) V(i, 0) = rng.normal();
  V.col(0).normalize();
  VecX<double> w(N);
  Index k = 0;
  double scale = 0.0;
  for (Index j = 0; j < m; ++j) {
    apply_jacobian(net, d, V.col(j), w);
    // Gram-Schmidt twice keeps V orthonormal to rounding for these short runs.
    for (int pass = 0; pass < 2; ++pass) {
      const VecX<double> h = V.leftCols(j + 1).transpose() * w;
      H.col(j).head(j + 1) += h;
      w.noalias() -= V.leftCols(j + 1) * h;
    }
    const double hn = w.norm();
    scale = std::max(scale, H.col(j).head(j + 1).norm());
    H(j + 1, j) = hn;
    k = j + 1;
    if (hn <= 1e-12 * std::max(1.0, scale)) {  // an invariant subspace: the Ritz values are exact
      H(j + 1, j) = 0.0;
      break;
    }
    V.col(j + 1) = w / hn;
  }
  Eigen::EigenSolver<MatX<double>> eig(H.topLeftCorner(k, k), true);
  const double beta = H(k, k - 1);
  RitzValues r;
  std::vector<std::pair<Complex, double>> pairs;
  for (Index i = 0; i < k; ++i) {
    const Eigen::VectorXcd y = eig.eigenvectors().col(i);
    pairs.emplace_back(eig.eigenvalues()[i], std::abs(beta) * std::abs(y[k - 1]) / y.norm());
  }
  std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) {
    if (a.first.real() != b.first.real()) return a.first.real() > b.first.real();
    return a.first.imag() > b.first.imag();
  });
  for (const auto& [value, residual] : pairs) {
    r.values.push_back(value);
    r.residuals.push_back(residual);
  }
  return r;
}

MatX<double> trial_states(const Network<double>& net, const ConstantInput& input, double dt,
                          Index every) {
  if (!(dt > 0) || every < 1) throw std::invalid_argument("trial_states: dt > 0, every >= 1");
  const Index steps = trial_steps(input.t_before, dt, 0) + trial_steps(input.t_after, dt, 1);
  MatX<double> out = MatX<double>::Zero(net.dims().N, 1 + steps / every);
  run_trial(net, input, dt, [&](Index k, Index, const MatX<double>& X) {
    if (k % every == 0) out.col(k / every) = X.col(0);
  });
  return out;
}

FixedPointReport find_fixed_points(const Network<double>& net,
                                   const std::vector<ConstantInput>& inputs,
                                   const FixedPointOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  if (!options.IsValid(&error)) throw std::invalid_argument("fixed points: " + error);
  const Dims d = net.dims();
  for (const ConstantInput& in : inputs) {
    if (in.u.size() != d.d_in || (in.u_before.size() != 0 && in.u_before.size() != d.d_in)) {
      throw std::invalid_argument(
          fmt::format("fixed points: input '{}' has {} channels, the network {}", in.name,
                      in.u.size(), d.d_in));
    }
  }
  // Parallelism is over conditions: Eigen must not start threads of its own inside them (its
  // parallel GEMM busy-waits, ruinous when the cores are shared), as in BatchGradient.
  Eigen::setNbThreads(1);
  FixedPointReport report;
  report.options = options;
  report.dims = d;
  report.g = net.g;
  report.tau = net.tau;
  const auto n_cond = static_cast<Index>(inputs.size());
  const Index samples = std::max<Index>(2, options.starts / 4);
  const MatX<double> M = net.theta.M();
  const MatX<double> pinv_M = (M.transpose() * M).ldlt().solve(M.transpose());

  std::vector<MatX<double>> trials(inputs.size());
  std::vector<ConditionPoints> results(inputs.size());
  std::exception_ptr failure;
  const auto guarded = [&failure](auto&& work) {
    try {
      work();
    } catch (...) {
#pragma omp critical(lrnn_fixed_points_error)
      if (!failure) failure = std::current_exception();
    }
  };
#pragma omp parallel for num_threads(options.threads) schedule(dynamic, 1)
  for (Index c = 0; c < n_cond; ++c) {
    guarded([&] {
      trials[static_cast<std::size_t>(c)] =
          simulate_trial(net, inputs[static_cast<std::size_t>(c)], options.dt, samples);
    });
  }
  if (failure) std::rethrow_exception(failure);
  MatX<double> all_ends(d.N, n_cond);
  for (Index c = 0; c < n_cond; ++c) {
    const MatX<double>& t = trials[static_cast<std::size_t>(c)];
    all_ends.col(c) = t.col(t.cols() - 1);
  }
#pragma omp parallel for num_threads(options.threads) schedule(dynamic, 1)
  for (Index c = 0; c < n_cond; ++c) {
    guarded([&] {
      const auto i = static_cast<std::size_t>(c);
      const MatX<double> starts =
          make_starts(trials[i], all_ends, options, static_cast<std::uint64_t>(c));
      ConditionPoints& out = results[i];
      out.input = inputs[i];
      out.points = solve_condition(net, inputs[i], starts, pinv_M, options, out);
      out.trial = trial_end(net, inputs[i], all_ends.col(c), out.points, options);
    });
  }
  if (failure) std::rethrow_exception(failure);
  report.conditions = std::move(results);
  report.wall_time_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace lrnn
