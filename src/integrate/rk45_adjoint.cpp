#include "lrnn/integrate/rk45_adjoint.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "integrate/rnn_vjp.hpp"
#include "lrnn/core/errors.hpp"

namespace lrnn {
namespace {

// Room for this many steps per segment on the first backward; the buffer doubles when needed.
constexpr Index kInitialSegmentSteps = 16;

// 3-point Gauss–Legendre on [0, 1]: exact for degree 5, so the quadrature adds an O(h⁷) local
// error, below the O(h⁵) of the dense outputs it reads.
constexpr double kGaussOffset = 0.38729833462074168852;  // sqrt(15) / 10
constexpr std::array<double, 3> kGaussTheta = {0.5 - kGaussOffset, 0.5, 0.5 + kGaussOffset};
constexpr std::array<double, 3> kGaussWeight = {5.0 / 18, 8.0 / 18, 5.0 / 18};

constexpr Side flip(Side s) { return s == Side::kLeft ? Side::kRight : Side::kLeft; }

// Two times closer than this (model time) are the same boundary: T - (T - t) may miss t by ulps.
constexpr double kTimeSlack = 1e-12;

}  // namespace

template <typename Scalar>
Rk45Adjoint<Scalar>::Rk45Adjoint(const TimeGrid& grid, const AdaptiveDriverOptions& options,
                                 int checkpoints)
    : grid_(grid),
      n_checkpoints_(checkpoints),
      driver_(options),
      seg_driver_([&] {
        // A segment starts mid-solve: let the driver pick its first step from the problem.
        AdaptiveDriverOptions o = options;
        o.h0 = 0.0;
        return o;
      }()),
      rhs_(grid),
      vjp_(std::make_unique<detail::RnnVjp<Scalar>>()) {
  if (checkpoints < 1) {
    throw ConfigError("integrator.checkpoints = " + std::to_string(checkpoints) + ": must be >= 1");
  }
}

template <typename Scalar>
Rk45Adjoint<Scalar>::~Rk45Adjoint() = default;

template <typename Scalar>
void Rk45Adjoint<Scalar>::store_checkpoint(double t, const Mat& Z) {
  const auto c = static_cast<Index>(ckpt_t_.size());
  ckpt_.middleCols(c * n_trials_, n_trials_) = Z;
  ckpt_t_.push_back(t);
}

template <typename Scalar>
void Rk45Adjoint<Scalar>::forward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                                  Eigen::Ref<VecX<Scalar>> y_bar) {
  rhs_.bind(net, batch);
  rnn_stop_times(grid_, batch, stops_);
  const Index rows = rhs_.rows();
  n_trials_ = rhs_.cols();
  const auto C = static_cast<Index>(n_checkpoints_);
  if (ckpt_.rows() != rows || ckpt_.cols() != C * n_trials_) {
    ckpt_.resize(rows, C * n_trials_);
    ckpt_t_.reserve(static_cast<std::size_t>(C));
  }
  ckpt_t_.clear();
  loaded_ = -1;
  rhs_.initial_state(Z_);
  store_checkpoint(0.0, Z_);
  const double T = grid_.T;
  Index next = 1;  // the next checkpoint j, due at the first boundary at or after T j / C
  const SolveResult r = driver_.solve(rhs_, 0.0, T, stops_, Z_, [&](const DenseStep<Scalar>& s) {
    if (next >= C || s.t1() >= T) return;
    if (s.t1() < T * static_cast<double>(next) / static_cast<double>(C)) return;
    store_checkpoint(s.t1(), s.X1());
    while (next < C && s.t1() >= T * static_cast<double>(next) / static_cast<double>(C)) ++next;
  });
  if (!r.ok()) throw NumericalError("rk45 forward solve: " + r.message);
  y_bar = Z_.row(net.dims().N).transpose();
  stats_ = SolveStats{};
  stats_.steps_accepted = r.steps_accepted;
  stats_.steps_rejected = r.steps_rejected;
  stats_.rhs_forward = r.rhs_evals;
  adj_ = AdjointStats{};
  adj_.checkpoint_states = static_cast<Index>(ckpt_t_.size());
}

template <typename Scalar>
void Rk45Adjoint<Scalar>::record_step(const DenseStep<Scalar>& s) {
  // Step k's samples are columns k (K - 1) .. (k + 1)(K - 1) (K = kNodes): neighbours share the
  // state at their common end.
  const auto S = static_cast<Index>(seg_steps_.size());
  const Index per = kNodes - 1;
  if (((S + 1) * per + 1) * n_trials_ > seg_.cols()) {
    seg_.conservativeResize(Eigen::NoChange, 2 * seg_.cols());
  }
  const auto sample = [&](Index i) {
    return seg_.middleCols((S * per + i) * n_trials_, n_trials_);
  };
  if (S == 0) sample(0) = s.X0();
  for (Index i = 1; i < per; ++i) {
    s.eval(s.t0() + s.h() * static_cast<double>(i) / static_cast<double>(per), x_);
    sample(i) = x_;
  }
  sample(per) = s.X1();
  seg_steps_.push_back({s.t0(), s.t1()});
}

template <typename Scalar>
void Rk45Adjoint<Scalar>::load_segment(std::size_t c) {
  const double a = ckpt_t_[c];
  const double b = c + 1 < ckpt_t_.size() ? ckpt_t_[c + 1] : grid_.T;
  seg_steps_.clear();
  Zs_ = ckpt_.middleCols(static_cast<Index>(c) * n_trials_, n_trials_);
  const SolveResult r = seg_driver_.solve(rhs_, a, b, stops_, Zs_,
                                          [this](const DenseStep<Scalar>& s) { record_step(s); });
  if (!r.ok()) throw NumericalError("rk45 adjoint, re-integrating a segment: " + r.message);
  loaded_ = static_cast<std::ptrdiff_t>(c);
  adj_.rhs_recompute += r.rhs_evals;
  ++adj_.segments;
  adj_.peak_segment_states =
      std::max(adj_.peak_segment_states, (kNodes - 1) * static_cast<Index>(seg_steps_.size()) + 1);
}

template <typename Scalar>
void Rk45Adjoint<Scalar>::state_at(RhsTime t, Mat& out) {
  const std::size_t n = ckpt_t_.size();
  const auto contains = [&](std::size_t c) {
    const double a = ckpt_t_[c];
    const double b = c + 1 < n ? ckpt_t_[c + 1] : grid_.T;
    if (t.t < a - kTimeSlack || t.t > b + kTimeSlack) return false;
    // At a boundary the side picks the segment: the left limit belongs to the earlier one.
    if (c > 0 && std::abs(t.t - a) <= kTimeSlack && t.side == Side::kLeft) return false;
    if (c + 1 < n && std::abs(t.t - b) <= kTimeSlack && t.side == Side::kRight) return false;
    return true;
  };
  if (loaded_ < 0 || !contains(static_cast<std::size_t>(loaded_))) {
    std::size_t c = n - 1;
    while (c > 0 && !contains(c)) --c;
    load_segment(c);
  }
  // The step holding t, then Lagrange interpolation of its five samples (exact for the
  // degree-4 dense output).
  const auto it = std::upper_bound(seg_steps_.begin(), seg_steps_.end(), t.t,
                                   [](double v, const StepSpan& s) { return v < s.t0; });
  const auto k = static_cast<Index>(std::max<std::ptrdiff_t>(it - seg_steps_.begin() - 1, 0));
  const StepSpan st = seg_steps_[static_cast<std::size_t>(k)];
  const double theta = (t.t - st.t0) / (st.t1 - st.t0);
  std::array<double, kNodes> node{}, weight{};
  for (Index i = 0; i < kNodes; ++i) {
    node[static_cast<std::size_t>(i)] = static_cast<double>(i) / static_cast<double>(kNodes - 1);
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    double l = 1.0;
    for (std::size_t j = 0; j < node.size(); ++j) {
      if (j != i) l *= (theta - node[j]) / (node[i] - node[j]);
    }
    weight[i] = l;
  }
  const Index first = k * (kNodes - 1);
  out = static_cast<Scalar>(weight[0]) * seg_.middleCols(first * n_trials_, n_trials_);
  for (Index i = 1; i < kNodes; ++i) {
    out += static_cast<Scalar>(weight[static_cast<std::size_t>(i)]) *
           seg_.middleCols((first + i) * n_trials_, n_trials_);
  }
}

template <typename Scalar>
void Rk45Adjoint<Scalar>::backward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                                   const Eigen::Ref<const VecX<Scalar>>& dL_dybar,
                                   Params<Scalar>& grad) {
  const Dims& d = net.dims();
  const Index N = d.N;
  const Index rows = N + 1;
  if (ckpt_t_.empty() || ckpt_.rows() != rows || batch.n_trials != n_trials_) {
    throw Error("rk45 adjoint backward: called without a matching forward");
  }
  rhs_.bind(net, batch);
  vjp_->begin(d, n_trials_);
  for (Mat* m : {&lam_, &x_, &kap_, &mu_, &Zs_}) m->resize(rows, n_trials_);
  if (seg_.rows() != rows || seg_.cols() < kInitialSegmentSteps * (kNodes - 1) * n_trials_) {
    seg_.resize(rows, kInitialSegmentSteps * (kNodes - 1) * n_trials_);
  }
  loaded_ = -1;

  const double T = grid_.T;
  bstops_.clear();
  for (const double t : stops_) bstops_.push_back(T - t);
  for (std::size_t c = 1; c < ckpt_t_.size(); ++c) bstops_.push_back(T - ckpt_t_[c]);
  std::sort(bstops_.begin(), bstops_.end());

  // dΛ/ds = (∂f/∂Z)ᵀ Λ at t = T - s; a one-sided limit in s is the other side in t.
  const auto adjoint_rhs = [&](RhsTime s, const Mat& L, Mat& dL) {
    const RhsTime t{T - s.t, flip(s.side)};
    state_at(t, x_);
    vjp_->apply(net, batch, rhs_, grid_.T_avg, t, x_, L, dL, false);
  };
  // ∫ λᵀ ∂f/∂θ dt over the accepted step, by Gauss–Legendre on the dense outputs.
  const auto quadrature = [&](const DenseStep<Scalar>& s) {
    for (std::size_t g = 0; g < kGaussTheta.size(); ++g) {
      const double sg = s.t0() + kGaussTheta[g] * s.h();
      s.eval(sg, kap_);
      kap_ *= static_cast<Scalar>(kGaussWeight[g] * s.h());
      const RhsTime t{T - sg, Side::kRight};  // inside the step: no jump there
      state_at(t, x_);
      vjp_->apply(net, batch, rhs_, grid_.T_avg, t, x_, kap_, mu_, true);
    }
  };

  // The adjoint is linear in dL/dȳ, so it is solved for a multiple of it and the result scaled
  // back, the multiple chosen so that λ_x is O(1) and atol means what it means for X. λ_x is
  // driven by the source phi' w λ_q / (N T_avg) and relaxes at rate 1 / tau, so it is about
  // tau |w|_∞ / (N T_avg) |λ_q| (measured: without this, λ_x ~ 1e-2 and atol = 1e-8 cost two
  // digits of the gradient against rk45/bptt).
  const double lam_x_per_lam_q =
      std::clamp(net.tau * static_cast<double>(net.theta.w().cwiseAbs().maxCoeff()) /
                     (static_cast<double>(N) * grid_.T_avg),
                 1e-6, 1.0);
  const auto scale =
      static_cast<Scalar>(static_cast<double>(dL_dybar.cwiseAbs().maxCoeff()) * lam_x_per_lam_q);
  if (!(scale > 0)) return;  // nothing to propagate (a non-finite loss is caught upstream)
  lam_.topRows(N).setZero();
  lam_.row(N) = dL_dybar.transpose() / scale;  // ȳ = q(T)
  const SolveResult r = driver_.solve(adjoint_rhs, 0.0, T, bstops_, lam_, quadrature);
  if (!r.ok()) throw NumericalError("rk45 adjoint backward solve: " + r.message);
  if (!(grad_unit_.dims() == d)) grad_unit_ = Params<Scalar>(d);
  grad_unit_.flat().setZero();
  vjp_->add_to(net, grid_.T_avg, grad_unit_);
  grad.flat() += scale * grad_unit_.flat();

  adj_.steps_accepted = r.steps_accepted;
  adj_.steps_rejected = r.steps_rejected;
  stats_.rhs_forward += adj_.rhs_recompute;
  stats_.rhs_backward =
      r.rhs_evals + static_cast<std::int64_t>(kGaussTheta.size()) * r.steps_accepted;
}

template class Rk45Adjoint<float>;
template class Rk45Adjoint<double>;

}  // namespace lrnn
