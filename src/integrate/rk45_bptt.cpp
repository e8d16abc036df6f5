#include "lrnn/integrate/rk45_bptt.hpp"

#include "integrate/rk45_forward.hpp"
#include "integrate/rk_stage_table.hpp"
#include "integrate/rnn_vjp.hpp"
#include "lrnn/core/errors.hpp"

namespace lrnn {
namespace {

// Room for this many steps on the first solve; the default task takes a few tens.
constexpr Index kInitialTapeSteps = 64;

}  // namespace

template <typename Scalar>
Rk45Bptt<Scalar>::Rk45Bptt(const TimeGrid& grid, const AdaptiveDriverOptions& options)
    : grid_(grid),
      driver_(options),
      rhs_(grid),
      stepper_(options.scheme),
      vjp_(std::make_unique<detail::RnnVjp<Scalar>>()) {}

template <typename Scalar>
Rk45Bptt<Scalar>::~Rk45Bptt() = default;

template <typename Scalar>
void Rk45Bptt<Scalar>::begin_tape(Index rows, Index cols) {
  steps_.clear();
  if (tape_.rows() != rows || n_trials_ != cols) {
    n_trials_ = cols;
    tape_.resize(rows, kInitialTapeSteps * cols);
    steps_.reserve(static_cast<std::size_t>(kInitialTapeSteps));
  }
}

template <typename Scalar>
void Rk45Bptt<Scalar>::record(double t0, double t1, const Mat& Z0) {
  const auto S = static_cast<Index>(steps_.size());
  if ((S + 1) * n_trials_ > tape_.cols()) {
    // Doubling keeps the number of reallocations logarithmic in the longest solve seen.
    tape_.conservativeResize(Eigen::NoChange, 2 * tape_.cols());
  }
  tape_.middleCols(S * n_trials_, n_trials_) = Z0;
  steps_.push_back({t0, t1});
}

template <typename Scalar>
void Rk45Bptt<Scalar>::forward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                               Eigen::Ref<VecX<Scalar>> y_bar) {
  detail::bind_forward(rhs_, this->bulk_mode(), net, batch, grid_, stops_);
  begin_tape(rhs_.rows(), rhs_.cols());
  rhs_.initial_state(Z_);
  const SolveResult r =
      driver_.solve(rhs_, 0.0, grid_.T, stops_, Z_, [this](const DenseStep<Scalar>& s) {
        this->poll_cancel();
        record(s.t0(), s.t1(), s.X0());
      });
  stats_ = detail::end_forward(r, Z_, net, y_bar);
}

template <typename Scalar>
void Rk45Bptt<Scalar>::forward_replay(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                                      std::span<const StepSpan> steps,
                                      Eigen::Ref<VecX<Scalar>> y_bar) {
  if (steps.empty() || steps.front().t0 != 0.0 || steps.back().t1 != grid_.T) {
    throw Error("rk45 replay: the steps must run from 0 to T");
  }
  rhs_.set_bulk_mode(this->bulk_mode());
  rhs_.bind(net, batch);
  const Index rows = rhs_.rows(), cols = rhs_.cols();
  // The spans may be this object's own steps_, which begin_tape clears: replay from a copy.
  replay_.assign(steps.begin(), steps.end());
  begin_tape(rows, cols);
  stepper_.resize(rows, cols);
  for (Mat* m : {&Z1_, &k1_, &k7_, &E_}) m->resize(rows, cols);
  rhs_.initial_state(Z_);
  stats_ = SolveStats{};
  double t = 0.0;
  for (const StepSpan& s : replay_) {
    this->poll_cancel();
    if (s.t0 != t || !(s.t1 > s.t0)) throw Error("rk45 replay: the steps must be contiguous");
    // k1 afresh at t0⁺ is bitwise the driver's FSAL k7 except at stop times, where the driver
    // also evaluates it afresh: the input does not change anywhere else.
    rhs_({s.t0, Side::kRight}, Z_, k1_);
    record(s.t0, s.t1, Z_);
    stepper_.step(rhs_, s.t0, s.t1, Z_, k1_, Z1_, k7_, E_);
    Z_.swap(Z1_);
    t = s.t1;
    stats_.rhs_forward += Dopri5<Scalar>::kStages;
  }
  y_bar = Z_.row(net.dims().N).transpose();
  stats_.steps_accepted = static_cast<std::int64_t>(replay_.size());
}

template <typename Scalar>
void Rk45Bptt<Scalar>::backward(const Network<Scalar>& net, const TrialBatch<Scalar>& batch,
                                const Eigen::Ref<const VecX<Scalar>>& dL_dybar,
                                Params<Scalar>& grad) {
  const Dims& d = net.dims();
  const Index N = d.N;
  const Index Bt = n_trials_;
  const Index rows = N + 1;
  if (tape_.rows() != rows || batch.n_trials != Bt) {
    throw Error("rk45 backward: called without a matching forward");
  }
  rhs_.set_bulk_mode(this->bulk_mode());
  rhs_.bind(net, batch);
  vjp_->begin(net, Bt, this->bulk_mode());
  for (Mat* m : {&lam_, &mu_}) m->resize(rows, Bt);
  for (Index i = 0; i < 6; ++i) {
    Y_[static_cast<std::size_t>(i)].resize(rows, Bt);
    kap_[static_cast<std::size_t>(i)].resize(rows, Bt);
  }
  const auto vjp = [&](RhsTime t, const Mat& Y, const Mat& kappa, Mat& mu) {
    vjp_->apply(net, batch, rhs_, grid_.T_avg, t, Y, kappa, mu, true);
  };

  const detail::RkStageTable& tab = detail::stage_table(stepper_.scheme());
  Mat* const stage_states[5] = {&Y_[1], &Y_[2], &Y_[3], &Y_[4], &Y_[5]};
  Mat* const stages[4] = {&kap_[1], &kap_[2], &kap_[3], &kap_[4]};
  lam_.topRows(N).setZero();
  lam_.row(N) = dL_dybar.transpose();  // ȳ = q(T)
  for (auto n = static_cast<Index>(steps_.size()) - 1; n >= 0; --n) {
    this->poll_cancel();
    const StepSpan st = steps_[static_cast<std::size_t>(n)];
    const double h = st.t1 - st.t0;
    const auto s = [h](double a) { return static_cast<Scalar>(a * h); };
    // Stage i is at t0⁺, t0 + c_i h⁺, and (c = 1) at t1⁻, as in the forward step.
    const auto tau = [&](std::size_t i) {
      if (i == 0) return RhsTime{st.t0, Side::kRight};
      if (tab.c[i] == 1.0) return RhsTime{st.t1, Side::kLeft};
      return RhsTime{st.t0 + tab.c[i] * h, Side::kRight};
    };

    // Recompute the stage states exactly as the forward step did; k_i lives in kap_ until the
    // adjoint overwrites it (k6 is not needed: only Y1 .. Y6 enter the vector-Jacobian products).
    Y_[0] = tape_.middleCols(n * Bt, Bt);
    rhs_(tau(0), Y_[0], kap_[0]);
    stepper_.stages(rhs_, st.t0, st.t1, Y_[0], kap_[0], stage_states, stages);

    // Reverse of Z_{n+1} = Z_n + h Σ b_i k_i, then of each stage from the last.
    for (std::size_t i = 0; i < 6; ++i) {
      if (tab.b[i] == 0.0) {
        kap_[i].setZero();
      } else {
        kap_[i] = s(tab.b[i]) * lam_;
      }
    }
    for (std::size_t i = 6; i-- > 0;) {
      vjp(tau(i), Y_[i], kap_[i], mu_);
      lam_ += mu_;  // after stage 1: dL/dZ_n
      for (std::size_t j = 0; j < i; ++j) kap_[j] += s(tab.a[i][j]) * mu_;
    }
  }
  vjp_->add_to(net, grid_.T_avg, grad);
  // Per step: 5 f evaluations to recompute the stages and 6 vector-Jacobian products.
  stats_.rhs_backward = 11 * static_cast<std::int64_t>(steps_.size());
}

template class Rk45Bptt<float>;
template class Rk45Bptt<double>;

}  // namespace lrnn
