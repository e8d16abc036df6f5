// rk45/adjoint, the continuous adjoint with forward checkpoints: against rk45/bptt at rtol = atol =
// 1e-8 for every parameter group, against central finite differences of the adaptive forward
// solve, over the full T = 100 of the default task with N = 10, R = 2, in double; that X cannot be
// recovered by integrating it backward from X(T) (why the checkpoints exist); that its memory
// (checkpoints, nested sub-checkpoints and dense output) does not grow with T; in float; its
// counts; and no allocation once the buffers are sized (malloc is interposed for this binary).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "lrnn/integrate/rk45_adjoint.hpp"
#include "lrnn/integrate/rk45_bptt.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/loss.hpp"
#include "support/malloc_counter.hpp"

namespace lrnn {
namespace {

// rtol = atol = 1e-8, as diffrax's tests compare adjoints against the direct one.
constexpr double kTol = 1e-8;
// Both gradients approximate the exact one of the ODE to the solver's accuracy (the discrete one
// of the computed solution, the continuous one of the ODE, each with O(tol) errors amplified by at
// most the O(10²) length of T / tau), so they agree to ~1e-6 at tol = 1e-8; 1e-5 is the issue's
// bound. A missing term or factor is an O(1) error.
constexpr double kVsBpttTol = 1e-5;
// Finite differences of the adaptive solve itself (no replay: the continuous adjoint is the
// derivative of the ODE's solution, not of one step sequence), solved at tol = 1e-11 so that the
// ODE's solution is what they differentiate. The controller's choices move with θ, so L(θ) is
// only piecewise smooth, with jumps of the size of the solve's error (~1e-12 here); central
// differences at h = 1e-4 then carry ~1e-12 / 1e-4 = 1e-8 of jitter plus a truncation error
// ~h² |L'''| ~ 1e-8, against gradients of 2e-3 (M, n): a few 1e-6 relative at worst (measured
// 3e-7 for M and n, below 1e-7 for the others). The adjoint's own error at tol = 1e-8 is ~5e-8
// (against bptt, above). 3e-6 sits between these and an O(1) error of a missing term.
constexpr double kFdTol = 3e-6;
constexpr double kFdSolveTol = 1e-11;
constexpr double kFdStep = 1e-4;
constexpr Index kTrials = 6;

AdaptiveDriverOptions driver_opts(double tol, RkScheme scheme = RkScheme::kDopri5) {
  AdaptiveDriverOptions o;
  o.scheme = scheme;
  o.control.rtol = tol;
  o.control.atol = tol;
  return o;
}

struct Problem {
  Network<double> net;
  TrialBatch<double> batch;
  TimeGrid grid;
};

Problem make_problem(TaskOptions t = {}, int N = 10) {
  RnnOptions o;
  o.N = N;
  o.R = 2;
  Problem s{init_network<double>(o, 123), {}, {}};
  s.net.theta.b() = 0.1;
  ContextSwitchTask task(t, 0.1, 7, 100, 1, 1);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(kTrials));
  std::iota(idx.begin(), idx.end(), 0);
  task.fill(Split::kTrain, idx.data(), kTrials, s.batch);
  s.grid = task.grid();
  return s;
}

template <typename Scalar>
double loss_and_grad(GradientMethod<Scalar>& m, const Network<Scalar>& net,
                     const TrialBatch<Scalar>& batch, Params<Scalar>& grad) {
  const Index B = batch.n_trials;
  VecX<Scalar> y(B), dL(B);
  m.forward(net, batch, y);
  const double loss =
      batch_loss<Scalar>(LabelType::kPm1, y, batch.target, static_cast<double>(B), &dL);
  grad.flat().setZero();
  m.backward(net, batch, dL, grad);
  return loss;
}

double group_rel(const Params<double>& a, const Params<double>& b, Group g) {
  const auto& layout = a.layout();
  const auto x = a.flat().segment(layout.offset(g), layout.size(g));
  const auto y = b.flat().segment(layout.offset(g), layout.size(g));
  return (x - y).norm() / y.norm();
}

// The continuous adjoint of either 5(4) pair (rk45, tsit5), against that pair's discrete adjoint.
void expect_adjoint_matches_bptt(Group g, RkScheme scheme) {
  const Problem s = make_problem();
  Rk45Adjoint<double> adj(s.grid, driver_opts(kTol, scheme), 16);
  Rk45Bptt<double> bptt(s.grid, driver_opts(kTol, scheme));
  Params<double> ga(s.net.dims()), gb(s.net.dims());
  const double la = loss_and_grad<double>(adj, s.net, s.batch, ga);
  const double lb = loss_and_grad<double>(bptt, s.net, s.batch, gb);
  EXPECT_EQ(la, lb) << "the same forward solve";
  const double rel = group_rel(ga, gb, g);
  std::printf("%s adjoint vs bptt %-2s: rel err %.3e (|bptt| %.3e)\n",
              scheme == RkScheme::kTsit5 ? "tsit5" : "rk45", std::string(group_name(g)).c_str(),
              rel, gb.flat().segment(gb.layout().offset(g), gb.layout().size(g)).norm());
  EXPECT_LE(rel, kVsBpttTol);
}

// The continuous adjoint against central differences of the adaptive solve of the same pair.
void expect_adjoint_matches_differences(Group g, RkScheme scheme) {
  const Problem s = make_problem();
  Rk45Adjoint<double> adj(s.grid, driver_opts(kTol, scheme), 16);
  Params<double> ga(s.net.dims());
  loss_and_grad<double>(adj, s.net, s.batch, ga);
  Rk45Bptt<double> solver(s.grid, driver_opts(kFdSolveTol, scheme));
  const auto loss = [&](const Network<double>& net) {
    VecX<double> y(kTrials);
    solver.forward(net, s.batch, y);
    return batch_loss<double>(LabelType::kPm1, y, s.batch.target, static_cast<double>(kTrials),
                              nullptr);
  };
  const Index off = s.net.theta.layout().offset(g);
  const Index len = s.net.theta.layout().size(g);
  VecX<double> fd(len);
  for (Index i = 0; i < len; ++i) {
    Network<double> p = s.net, m = s.net;
    p.theta.flat()[off + i] += kFdStep;
    m.theta.flat()[off + i] -= kFdStep;
    fd[i] = (loss(p) - loss(m)) / (2 * kFdStep);
  }
  ASSERT_GT(fd.norm(), 1e-8) << "the gradient of this group vanishes: the test would be empty";
  const double rel = (ga.flat().segment(off, len) - fd).norm() / fd.norm();
  std::printf("%s adjoint vs fd %-2s: rel err %.3e\n",
              scheme == RkScheme::kTsit5 ? "tsit5" : "rk45", std::string(group_name(g)).c_str(),
              rel);
  EXPECT_LE(rel, kFdTol);
}

class Rk45AdjointGroup : public ::testing::TestWithParam<Group> {};

TEST_P(Rk45AdjointGroup, MatchesBptt) {
  expect_adjoint_matches_bptt(GetParam(), RkScheme::kDopri5);
}

TEST_P(Rk45AdjointGroup, MatchesCentralDifferencesOfTheAdaptiveSolve) {
  expect_adjoint_matches_differences(GetParam(), RkScheme::kDopri5);
}

// tsit5/adjoint: the same checks with Tsitouras's pair through the same driver and adjoint.
class Tsit5AdjointGroup : public ::testing::TestWithParam<Group> {};

TEST_P(Tsit5AdjointGroup, MatchesBptt) {
  expect_adjoint_matches_bptt(GetParam(), RkScheme::kTsit5);
}

TEST_P(Tsit5AdjointGroup, MatchesCentralDifferencesOfTheAdaptiveSolve) {
  expect_adjoint_matches_differences(GetParam(), RkScheme::kTsit5);
}

const auto kEveryGroup =
    ::testing::Values(Group::kM, Group::kN, Group::kB, Group::kW, Group::kBias);
const auto kGroupName = [](const auto& param_info) {
  return std::string(group_name(param_info.param));
};
INSTANTIATE_TEST_SUITE_P(AllGroups, Rk45AdjointGroup, kEveryGroup, kGroupName);
INSTANTIATE_TEST_SUITE_P(AllGroups, Tsit5AdjointGroup, kEveryGroup, kGroupName);

TEST(Rk45Adjoint, FewCheckpointsStayAccurate) {
  // One checkpoint: the whole of [0, T] is one segment, and with C = 1 (leaves of L = 2 steps,
  // P = 2 sub-checkpoints per level) its hundreds of steps are recomputed through several levels
  // of nested sub-checkpoints.
  const Problem s = make_problem();
  Rk45Adjoint<double> adj(s.grid, driver_opts(kTol), 1);
  Rk45Bptt<double> bptt(s.grid, driver_opts(kTol));
  Params<double> ga(s.net.dims()), gb(s.net.dims());
  loss_and_grad<double>(adj, s.net, s.batch, ga);
  loss_and_grad<double>(bptt, s.net, s.batch, gb);
  const AdjointStats& a = adj.adjoint_stats();
  EXPECT_EQ(a.checkpoint_states, 1);
  EXPECT_GE(a.depth, 3);
  // 1 checkpoint + 2 per level + two leaves of 2 steps (9 samples each).
  EXPECT_LE(adj.stored_states(), 1 + 2 * a.depth + 2 * 9);
  EXPECT_LE((ga.flat() - gb.flat()).norm() / gb.flat().norm(), kVsBpttTol);
}

TEST(Rk45Adjoint, NaiveBackwardReintegrationOfXBlowsUp) {
  // The reason for checkpoints: integrate X backward from X(T) (the reverse of the contracting
  // tau dX/dt = -X + ...) with the same solver and tolerances, and compare with X(0) = 0. The
  // slightest error at T grows like e^{T / tau} = e^{100}.
  const Problem s = make_problem();
  RnnRhs<double> rhs(s.grid);
  rhs.bind(s.net, s.batch);
  std::vector<double> stops;
  rnn_stop_times(s.grid, s.batch, stops);
  AdaptiveDriver<double> driver(driver_opts(kTol));
  MatX<double> Z;
  rhs.initial_state(Z);
  ASSERT_TRUE(driver.solve(rhs, 0.0, s.grid.T, stops, Z).ok());
  const double T = s.grid.T;
  std::vector<double> bstops;
  for (const double t : stops) bstops.push_back(T - t);
  std::sort(bstops.begin(), bstops.end());
  const auto reversed = [&](RhsTime sr, const MatX<double>& X, MatX<double>& dX) {
    rhs({T - sr.t, sr.side == Side::kLeft ? Side::kRight : Side::kLeft}, X, dX);
    dX = -dX;
  };
  AdaptiveDriverOptions o = driver_opts(kTol);
  o.max_steps = 20000;
  AdaptiveDriver<double> back(o);
  const SolveResult r = back.solve(reversed, 0.0, T, bstops, Z);
  const double err = Z.topRows(s.net.dims().N).cwiseAbs().maxCoeff();
  std::printf("naive backward re-integration of X over T = %.0f: %s at t = %.3g, |X(0)| = %.3e\n",
              T, to_string(r.status), T - r.t, err);
  // Either the solve dies (tanh saturates, the state runs off to infinity) or it reaches t = 0
  // far from X(0) = 0.
  EXPECT_TRUE(!r.ok() || !(err <= 1e3)) << "|X(0)| = " << err;

  // The checkpointed adjoint of the same problem stays accurate.
  Rk45Adjoint<double> adj(s.grid, driver_opts(kTol), 16);
  Rk45Bptt<double> bptt(s.grid, driver_opts(kTol));
  Params<double> ga(s.net.dims()), gb(s.net.dims());
  loss_and_grad<double>(adj, s.net, s.batch, ga);
  loss_and_grad<double>(bptt, s.net, s.batch, gb);
  EXPECT_LE((ga.flat() - gb.flat()).norm() / gb.flat().norm(), kVsBpttTol);
}

TEST(Rk45Adjoint, MemoryDoesNotGrowWithT) {
  constexpr int kCheckpoints = 16;
  // L = P = C: leaves of at most 16 steps, at most 16 sub-checkpoints per level of nesting.
  constexpr Index kLeafStates = 4 * kCheckpoints + 1;
  std::vector<Index> ckpt;
  std::vector<Index> bptt_states;
  std::vector<Index> total;
  for (const double T_stim : {85.0, 385.0, 1585.0}) {
    TaskOptions t;
    t.T_stim = T_stim;
    const Problem s = make_problem(t);
    Rk45Adjoint<double> adj(s.grid, driver_opts(1e-6), kCheckpoints);
    Rk45Bptt<double> bptt(s.grid, driver_opts(1e-6));
    Params<double> ga(s.net.dims()), gb(s.net.dims());
    loss_and_grad<double>(adj, s.net, s.batch, ga);
    loss_and_grad<double>(bptt, s.net, s.batch, gb);
    const AdjointStats& a = adj.adjoint_stats();
    std::printf(
        "T = %5.0f: bptt stores %4zu states (%lld steps); adjoint stores %lld checkpoint + "
        "%lld sub-checkpoint and dense = %lld states (depth %lld; %lld backward steps, %lld "
        "segment re-integrations, %lld replays; f forward %lld, backward %lld); grad rel diff "
        "%.2e\n",
        s.grid.T, bptt.steps().size(), static_cast<long long>(bptt.stats().steps_accepted),
        static_cast<long long>(a.checkpoint_states), static_cast<long long>(a.peak_segment_states),
        static_cast<long long>(adj.stored_states()), static_cast<long long>(a.depth),
        static_cast<long long>(a.steps_accepted), static_cast<long long>(a.segments),
        static_cast<long long>(a.replays), static_cast<long long>(adj.stats().rhs_forward),
        static_cast<long long>(adj.stats().rhs_backward),
        (ga.flat() - gb.flat()).norm() / gb.flat().norm());
    ckpt.push_back(a.checkpoint_states);
    total.push_back(adj.stored_states());
    bptt_states.push_back(static_cast<Index>(bptt.steps().size()));
    // C checkpoints, C per level of nesting, two leaves' dense samples; up to L P = 256 steps per
    // segment (T ~ 5000 here) one level suffices.
    EXPECT_LE(a.depth, 1);
    EXPECT_LE(adj.stored_states(), kCheckpoints + kCheckpoints * 1 + 2 * kLeafStates);
  }
  // The checkpoints are C states whatever T, and so is the bound on the total above, while
  // bptt's tape grows with the number of steps.
  for (const Index c : ckpt) EXPECT_EQ(c, kCheckpoints);
  EXPECT_GT(bptt_states.back(), 4 * bptt_states.front());
  EXPECT_LT(total.back(), bptt_states.back());
}

TEST(Rk45Adjoint, StatsCountTheWork) {
  const Problem s = make_problem();
  Rk45Adjoint<double> adj(s.grid, driver_opts(1e-6), 16);
  Rk45Bptt<double> bptt(s.grid, driver_opts(1e-6));
  Params<double> ga(s.net.dims()), gb(s.net.dims());
  loss_and_grad<double>(bptt, s.net, s.batch, gb);
  VecX<double> y(kTrials);
  adj.forward(s.net, s.batch, y);
  const SolveStats fwd = adj.stats();
  loss_and_grad<double>(adj, s.net, s.batch, ga);
  const SolveStats st = adj.stats();
  const AdjointStats& a = adj.adjoint_stats();
  std::printf(
      "rtol 1e-6 adjoint: forward %lld accepted, %lld rejected, %lld f (solve %lld + "
      "recompute %lld); backward %lld accepted, %lld rejected, %lld f; %lld segments\n",
      static_cast<long long>(st.steps_accepted), static_cast<long long>(st.steps_rejected),
      static_cast<long long>(st.rhs_forward), static_cast<long long>(fwd.rhs_forward),
      static_cast<long long>(a.rhs_recompute), static_cast<long long>(a.steps_accepted),
      static_cast<long long>(a.steps_rejected), static_cast<long long>(st.rhs_backward),
      static_cast<long long>(a.segments));
  std::printf("rtol 1e-6 bptt: %lld accepted, %lld f forward, %lld backward\n",
              static_cast<long long>(bptt.stats().steps_accepted),
              static_cast<long long>(bptt.stats().rhs_forward),
              static_cast<long long>(bptt.stats().rhs_backward));
  EXPECT_EQ(st.steps_accepted, bptt.stats().steps_accepted) << "the same forward solve";
  EXPECT_EQ(st.rhs_forward, fwd.rhs_forward + a.rhs_recompute);
  EXPECT_GT(a.rhs_recompute, 0);
  // 6 f per attempted step, 1 to start, 1 for h0, 1 afresh after each stop the solve lands on
  // (the quadrature nodes only add parameter terms, no product with Cᵀ, and are not counted).
  EXPECT_GE(st.rhs_backward, 6 * a.steps_accepted + 6 * a.steps_rejected + 2);
  EXPECT_EQ(a.segments, 16) << "each segment recomputed once";
  // The recomputation replays the forward's accepted steps: 6 f a step, and a fresh k1 at each
  // segment's start and after each of the 2 stops (the input jump, the window opening).
  EXPECT_LE(a.rhs_recompute, 6 * st.steps_accepted + a.segments + 2);
  EXPECT_LT(st.rhs_forward + st.rhs_backward, 2000) << "Euler's 1000 + 1000";
}

TEST(Rk45Adjoint, FloatAgreesWithDouble) {
  const Problem s = make_problem();
  const Network<float> net_f = s.net.cast<float>();
  TrialBatch<float> batch_f;
  batch_f.resize(s.batch.n_trials, s.batch.n_steps, s.batch.d_in);
  batch_f.u = s.batch.u.cast<float>();
  batch_f.target = s.batch.target.cast<float>();
  Rk45Bptt<double> rd(s.grid, driver_opts(1e-10));
  Rk45Adjoint<float> rf(s.grid, driver_opts(1e-5), 16);
  Params<double> gd(s.net.dims());
  Params<float> gf(s.net.dims());
  loss_and_grad<double>(rd, s.net, s.batch, gd);
  loss_and_grad<float>(rf, net_f, batch_f, gf);
  const double rel = (gf.flat().cast<double>() - gd.flat()).norm() / gd.flat().norm();
  std::printf("float adjoint rtol 1e-5 vs double bptt rtol 1e-10: gradient rel diff %.3e\n", rel);
  // As for rk45/bptt in float: rtol 1e-5 and float rounding, far below an O(1) error.
  EXPECT_LT(rel, 1e-3);
  EXPECT_TRUE(gf.flat().allFinite());
}

TEST(Rk45Adjoint, NoAllocationOnceSized) {
  LRNN_SKIP_WITHOUT_MALLOC_COUNTER();
  const Problem s = make_problem(TaskOptions{}, 50);
  Rk45Adjoint<double> adj(s.grid, driver_opts(1e-6), 16);
  Params<double> grad(s.net.dims());
  loss_and_grad<double>(adj, s.net, s.batch, grad);
  VecX<double> y(kTrials), dL(kTrials);
  dL.setConstant(0.1);
  long count = 0;
  {
    test::MallocCounter counter;
    adj.forward(s.net, s.batch, y);
    adj.backward(s.net, s.batch, dL, grad);
    count = counter.count();
  }
  EXPECT_GT(adj.adjoint_stats().steps_accepted, 10);
  EXPECT_EQ(count, 0) << "a forward and backward of a known shape allocated";
}

}  // namespace
}  // namespace lrnn
