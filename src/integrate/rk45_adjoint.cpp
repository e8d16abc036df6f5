#include "lrnn/integrate/rk45_adjoint.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "integrate/rk45_forward.hpp"
#include "integrate/rnn_vjp.hpp"
#include "lrnn/core/errors.hpp"

namespace lrnn {
namespace {

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
      rhs_(grid),
      vjp_(std::make_unique<detail::RnnVjp<Scalar>>()),
      leaf_steps_(std::max(checkpoints, 2)),
      max_parts_(std::max(checkpoints, 2)),
      replay_stepper_(options.scheme) {
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
  ckpt_step_.push_back(fwd_steps_.size());
}

template <typename Scalar>
void Rk45Adjoint<Scalar>::forward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                                  Eigen::Ref<VecX<Scalar>> y_bar) {
  detail::bind_forward(rhs_, this->bulk_mode(), net, batch, grid_, stops_);
  const Index rows = rhs_.rows();
  n_trials_ = rhs_.cols();
  const auto C = static_cast<Index>(n_checkpoints_);
  if (ckpt_.rows() != rows || ckpt_.cols() != C * n_trials_) {
    ckpt_.resize(rows, C * n_trials_);
    ckpt_t_.reserve(static_cast<std::size_t>(C));
  }
  ckpt_t_.clear();
  ckpt_step_.clear();
  fwd_steps_.clear();
  loaded_ = -1;
  rhs_.initial_state(Z_);
  store_checkpoint(0.0, Z_);
  const double T = grid_.T;
  Index next = 1;  // the next checkpoint j, due at the first boundary at or after T j / C
  const SolveResult r = driver_.solve(rhs_, 0.0, T, stops_, Z_, [&](const DenseStep<Scalar>& s) {
    this->poll_cancel();
    fwd_steps_.push_back({s.t0(), s.t1()});
    if (next >= C || s.t1() >= T) return;
    if (s.t1() < T * static_cast<double>(next) / static_cast<double>(C)) return;
    store_checkpoint(s.t1(), s.X1());
    while (next < C && s.t1() >= T * static_cast<double>(next) / static_cast<double>(C)) ++next;
  });
  stats_ = detail::end_forward(r, Z_, net, y_bar);
  adj_ = AdjointStats{};
  adj_.checkpoint_states = static_cast<Index>(ckpt_t_.size());
}

template <typename Scalar>
void Rk45Adjoint<Scalar>::note_states() {
  Index held = 0;
  for (const Leaf& l : leaves_) {
    if (l.hi > l.lo) held += (kNodes - 1) * (l.hi - l.lo) + 1;
  }
  for (const Level& l : levels_) held += l.parts;
  adj_.peak_segment_states = std::max(adj_.peak_segment_states, held);
}

template <typename Scalar>
void Rk45Adjoint<Scalar>::record_step(Leaf& leaf, const DenseStep<Scalar>& s) {
  // Step k's samples are columns k (K - 1) .. (k + 1)(K - 1) (K = kNodes) from the leaf's offset:
  // neighbours share the state at their common end.
  const Index S = leaf.hi - leaf.lo;
  const Index per = kNodes - 1;
  eigen_assert(leaf.offset + ((S + 1) * per + 1) * n_trials_ <= dense_.cols());
  const auto sample = [&](Index i) {
    return dense_.middleCols(leaf.offset + (S * per + i) * n_trials_, n_trials_);
  };
  if (S == 0) sample(0) = s.X0();
  for (Index i = 1; i < per; ++i) {
    s.eval(s.t0() + s.h() * static_cast<double>(i) / static_cast<double>(per), x_);
    sample(i) = x_;
  }
  sample(per) = s.X1();
  ++leaf.hi;
}

template <typename Scalar>
typename Rk45Adjoint<Scalar>::Level& Rk45Adjoint<Scalar>::level(std::size_t d) {
  while (levels_.size() <= d) levels_.emplace_back();
  Level& lv = levels_[d];
  if (lv.starts.rows() != Xr_.rows() || lv.starts.cols() != max_parts_ * n_trials_) {
    lv.starts.resize(Xr_.rows(), max_parts_ * n_trials_);
  }
  lv.begins.resize(static_cast<std::size_t>(max_parts_) + 1);
  return lv;
}

template <typename Scalar>
void Rk45Adjoint<Scalar>::load_segment(std::size_t c) {
  const Index B = n_trials_;
  seg_steps_.clear();
  for (Leaf& l : leaves_) l.lo = l.hi = 0;
  for (Level& l : levels_) l.parts = 0;
  // The replay keeps the dense output while the segment fits in 2 L steps, and the state every
  // `stride` steps as the first level of sub-checkpoints, halving them (and doubling the stride)
  // when P would be exceeded.
  Leaf& whole = leaves_[0];
  whole.offset = 0;
  bool keep = true;
  Level& lv = level(0);
  Index stride = 1;
  lv.lo = 0;
  lv.parts = 1;
  lv.begins[0] = 0;
  // The forward's steps of this segment, replayed from its checkpoint.
  const std::size_t first = ckpt_step_[c];
  const std::size_t last = c + 1 < ckpt_step_.size() ? ckpt_step_[c + 1] : fwd_steps_.size();
  seg_steps_.assign(fwd_steps_.begin() + static_cast<std::ptrdiff_t>(first),
                    fwd_steps_.begin() + static_cast<std::ptrdiff_t>(last));
  eigen_assert(!seg_steps_.empty() && seg_steps_.front().t0 == ckpt_t_[c]);
  Xr_ = ckpt_.middleCols(static_cast<Index>(c) * B, B);
  lv.starts.leftCols(B) = Xr_;
  Index e = 0;
  replay(0, static_cast<Index>(seg_steps_.size()), [&](const DenseStep<Scalar>& s) {
    ++e;
    if (e % stride == 0) {
      if (lv.parts == max_parts_) {
        Index kept = 0;
        for (Index j = 0; j < lv.parts; j += 2, ++kept) {
          lv.begins[static_cast<std::size_t>(kept)] = lv.begin(j);
          if (kept != j) lv.starts.middleCols(kept * B, B) = lv.starts.middleCols(j * B, B);
        }
        lv.parts = kept;
        stride *= 2;
      }
      if (e % stride == 0) {
        lv.begins[static_cast<std::size_t>(lv.parts)] = e;
        lv.starts.middleCols(lv.parts * B, B) = s.X1();
        ++lv.parts;
      }
    }
    if (keep) {
      if (whole.hi < 2 * leaf_steps_) {
        record_step(whole, s);
      } else {
        keep = false;
        whole.lo = whole.hi = 0;
      }
    }
    note_states();
  });
  const auto n = static_cast<Index>(seg_steps_.size());
  lv.hi = n;
  if (lv.begin(lv.parts - 1) == n) --lv.parts;  // the end state starts no run
  if (keep) lv.parts = 0;                       // the whole segment is stored
  if (!keep) adj_.depth = std::max<Index>(adj_.depth, 1);
  loaded_ = static_cast<std::ptrdiff_t>(c);
  mru_ = 0;
  ++adj_.segments;
}

template <typename Scalar>
void Rk45Adjoint<Scalar>::replay(Index lo, Index hi, StepObserver<Scalar> obs) {
  // The driver's computation for these steps: k1 = f(t0⁺, X0) at the segment's start and after a
  // stop it landed on, else FSAL's k7 = f(t0⁻, X0) (the same call as at the end of the previous
  // step), so the stages, X1 and the dense output are the ones of the adaptive re-integration.
  const auto is_stop = [&](double t) {
    return std::binary_search(stops_.begin(), stops_.end(), t);
  };
  for (Index i = lo; i < hi; ++i) {
    this->poll_cancel();
    const StepSpan st = seg_steps_[static_cast<std::size_t>(i)];
    if (i == 0 || is_stop(st.t0)) {
      rhs_({st.t0, Side::kRight}, Xr_, k1r_);
      ++adj_.rhs_recompute;
    } else if (i == lo) {
      rhs_({st.t0, Side::kLeft}, Xr_, k1r_);
      ++adj_.rhs_recompute;
    }
    replay_stepper_.step(rhs_, st.t0, st.t1, Xr_, k1r_, X1r_, k7r_, Er_);
    adj_.rhs_recompute += Dopri5<Scalar>::kStages - 1;
    obs(DenseStep<Scalar>(replay_stepper_, st.t0, st.t1, Xr_, X1r_, k1r_, k7r_));
    Xr_.swap(X1r_);
    k1r_.swap(k7r_);
  }
  ++adj_.replays;
}

template <typename Scalar>
const typename Rk45Adjoint<Scalar>::Leaf& Rk45Adjoint<Scalar>::leaf_for(Index k) {
  for (std::size_t i = 0; i < kLeaves; ++i) {
    if (leaves_[i].lo <= k && k < leaves_[i].hi) {
      mru_ = i;
      return leaves_[i];
    }
  }
  const Index B = n_trials_;
  const auto n = static_cast<Index>(seg_steps_.size());
  const auto fill = [&](std::size_t slot, Index lo, Index hi) -> const Leaf& {
    Leaf& leaf = leaves_[slot];
    leaf.lo = leaf.hi = lo;
    leaf.offset = static_cast<Index>(slot) * ((kNodes - 1) * leaf_steps_ + 1) * B;
    replay(lo, hi, [&](const DenseStep<Scalar>& s) { record_step(leaf, s); });
    note_states();
    mru_ = slot;
    return leaf;
  };
  if (n <= 2 * leaf_steps_) {  // a whole segment (not reached: load_segment keeps it)
    for (Leaf& l : leaves_) l.lo = l.hi = 0;
    Xr_ = ckpt_.middleCols(static_cast<Index>(loaded_) * B, B);
    return fill(0, 0, n);
  }
  Index lo = 0, hi = n;
  for (std::size_t d = 0;; ++d) {
    Level& lv = level(d);
    if (lv.parts == 0 || lv.lo != lo || lv.hi != hi) {
      // Split [lo, hi), a run of level d - 1, by replaying it from its sub-checkpoint.
      eigen_assert(d > 0);
      for (std::size_t e = d; e < levels_.size(); ++e) levels_[e].parts = 0;
      const Level& up = levels_[d - 1];
      Index jp = up.parts - 1;
      while (up.begin(jp) > lo) --jp;
      Xr_ = up.starts.middleCols(jp * B, B);
      const Index m = hi - lo;
      const Index parts = std::clamp((m + leaf_steps_ - 1) / leaf_steps_, Index{2}, max_parts_);
      lv.lo = lo;
      lv.hi = hi;
      lv.parts = parts;
      for (Index j = 0; j < parts; ++j) lv.begins[static_cast<std::size_t>(j)] = lo + j * m / parts;
      lv.starts.leftCols(B) = Xr_;
      Index next = 1, e = lo;
      replay(lo, lv.begin(parts - 1), [&](const DenseStep<Scalar>& s) {
        ++e;
        if (next < parts && e == lv.begin(next)) {
          lv.starts.middleCols(next * B, B) = s.X1();
          ++next;
        }
      });
      note_states();
      adj_.depth = std::max(adj_.depth, static_cast<Index>(d) + 1);
    }
    Index j = lv.parts - 1;
    while (j > 0 && lv.begin(j) > k) --j;
    if (lv.end(j) - lv.begin(j) <= leaf_steps_) {
      // The leaf: the runs ending with j's that fit in L steps, from the sub-checkpoint of the
      // first (so the next leaf down the backward sweep starts where this one does).
      Index first = j;
      while (first > 0 && lv.end(j) - lv.begin(first - 1) <= leaf_steps_) --first;
      Xr_ = lv.starts.middleCols(first * B, B);
      return fill((mru_ + 1) % kLeaves, lv.begin(first), lv.end(j));
    }
    lo = lv.begin(j);
    hi = lv.end(j);
  }
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
  const Leaf& leaf = leaf_for(k);
  const Index first = leaf.offset + (k - leaf.lo) * (kNodes - 1) * n_trials_;
  out = static_cast<Scalar>(weight[0]) * dense_.middleCols(first, n_trials_);
  for (Index i = 1; i < kNodes; ++i) {
    out += static_cast<Scalar>(weight[static_cast<std::size_t>(i)]) *
           dense_.middleCols(first + i * n_trials_, n_trials_);
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
  rhs_.set_bulk_mode(this->bulk_mode());
  rhs_.bind(net, batch);
  vjp_->begin(net, n_trials_, this->bulk_mode());
  for (Mat* m : {&lam_, &x_, &kap_}) m->resize(rows, n_trials_);
  const auto dense_cols =
      static_cast<Index>(kLeaves) * ((kNodes - 1) * leaf_steps_ + 1) * n_trials_;
  if (dense_.rows() != rows || dense_.cols() != dense_cols) dense_.resize(rows, dense_cols);
  for (Leaf& l : leaves_) l.lo = l.hi = 0;
  replay_stepper_.resize(rows, n_trials_);
  for (Mat* m : {&Xr_, &X1r_, &k1r_, &k7r_, &Er_}) m->resize(rows, n_trials_);
  for (std::size_t i = 0; i < levels_.size(); ++i) level(i).parts = 0;
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
    this->poll_cancel();
    for (std::size_t g = 0; g < kGaussTheta.size(); ++g) {
      const double sg = s.t0() + kGaussTheta[g] * s.h();
      s.eval(sg, kap_);
      kap_ *= static_cast<Scalar>(kGaussWeight[g] * s.h());
      const RhsTime t{T - sg, Side::kRight};  // inside the step: no jump there
      state_at(t, x_);
      vjp_->add_params(net, batch, rhs_, t, x_, kap_);
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
  stats_.rhs_backward = r.rhs_evals;  // the quadrature nodes need no product with C
}

template class Rk45Adjoint<float>;
template class Rk45Adjoint<double>;

}  // namespace lrnn
