// rk45/bptt, the discrete adjoint of the accepted Dormand–Prince steps: against central finite
// differences of the same discrete computation (the recorded steps replayed, so the differences
// see the same step sizes), in double, over the full T = 100 with the task's inputs, for every
// parameter group at several points; against euler/bptt at a small dt; in float; its counts; and
// no allocation once the buffers are sized (malloc is interposed for this binary).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/integrate/euler_bptt.hpp"
#include "lrnn/integrate/rk45_adjoint.hpp"
#include "lrnn/integrate/rk45_bptt.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/loss.hpp"
#include "support/gradient_points.hpp"
#include "support/malloc_counter.hpp"

namespace lrnn {
namespace {

// The finite differences need care here, unlike Euler's. At rtol = 1e-8 most accepted steps are
// held by the stability of the explicit method (h up to 4.4 with tau = 1: |h λ| near the edge of
// Dormand–Prince's stability region), and there the stages amplify the rounding of each step: ȳ
// of some trials jitters by ~1e-11 as θ moves by 1e-10 (measured; with every step longer than 1
// halved, the same differences of ȳ are constant to 1e-16, and Euler's are too). Central
// differences at h = 1e-4 then carry errors of ~1e-11 / 1e-4 = 1e-7, up to 3e-5 relative for the
// smallest groups (measured). So: the 6th-order central stencil at h = 2e-2, whose truncation
// error ~h⁶ |L⁽⁷⁾| / 140 is negligible and whose rounding error ~1e-11 / h = 5e-10 is about 1e-7
// relative for the smallest gradients (measured: at most 3e-7, for M and n at the "default" point,
// 7e-8 or less elsewhere). A real error in the adjoint (a missing term or factor) is O(1).
constexpr double kFdStep = 2e-2;
constexpr double kRelTol = 1e-6;
// rtol = atol = 1e-8: the tolerances the issue asks the gradient checks to run at.
constexpr double kTol = 1e-8;
constexpr Index kTrials = 6;

using Point = test::GradientPoint;

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

Problem make_problem(const Point& point, double dt = 0.1, int N = 10, TaskOptions t = {}) {
  RnnOptions o;
  o.N = N;
  o.R = 2;
  o.M_init_std = o.N_init_std = o.B_init_std = o.w_init_std = point.init_scale;
  Problem s{init_network<double>(o, 123), {}, {}};
  s.net.theta.b() = point.bias;
  t.label_type = point.label_type;
  ContextSwitchTask task(t, dt, 7, 100, 1, 1);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(kTrials));
  std::iota(idx.begin(), idx.end(), 0);
  task.fill(Split::kTrain, idx.data(), kTrials, s.batch);
  s.grid = task.grid();
  return s;
}

// Loss and gradient of one adaptive solve; the accepted steps in steps.
template <typename Scalar>
double loss_and_grad(GradientMethod<Scalar>& m, const Network<Scalar>& net,
                     const TrialBatch<Scalar>& batch, LabelType type, Params<Scalar>& grad) {
  const Index B = batch.n_trials;
  VecX<Scalar> y(B), dL(B);
  m.forward(net, batch, y);
  const double loss = batch_loss<Scalar>(type, y, batch.target, static_cast<double>(B), &dL);
  grad.flat().setZero();
  m.backward(net, batch, dL, grad);
  return loss;
}

double replay_loss(const Network<double>& net, const Problem& s, std::span<const StepSpan> steps,
                   LabelType type, RkScheme scheme) {
  Rk45Bptt<double> r(s.grid, driver_opts(kTol, scheme));
  VecX<double> y(kTrials);
  r.forward_replay(net, s.batch, steps, y);
  return batch_loss<double>(type, y, s.batch.target, static_cast<double>(kTrials), nullptr);
}

// f'(0) to O(h⁶): (45 (f(h) - f(-h)) - 9 (f(2h) - f(-2h)) + (f(3h) - f(-3h))) / (60 h).
template <typename F>
double central_difference6(F&& f, double h) {
  return (45 * (f(h) - f(-h)) - 9 * (f(2 * h) - f(-2 * h)) + (f(3 * h) - f(-3 * h))) / (60 * h);
}

// The discrete adjoint of either 5(4) pair (rk45, tsit5) against central differences of its
// replayed steps.
void expect_bptt_matches_differences(const Point& point, Group group, RkScheme scheme) {
  const Problem s = make_problem(point);
  Rk45Bptt<double> rk(s.grid, driver_opts(kTol, scheme));
  Params<double> grad(s.net.dims());
  loss_and_grad<double>(rk, s.net, s.batch, point.label_type, grad);
  const std::vector<StepSpan> steps(rk.steps().begin(), rk.steps().end());

  const Index off = s.net.theta.layout().offset(group);
  const Index len = s.net.theta.layout().size(group);
  VecX<double> fd(len);
  for (Index i = 0; i < len; ++i) {
    fd[i] = central_difference6(
        [&](double delta) {
          Network<double> p = s.net;
          p.theta.flat()[off + i] += delta;
          return replay_loss(p, s, steps, point.label_type, scheme);
        },
        kFdStep);
  }
  const VecX<double> analytic = grad.flat().segment(off, len);
  ASSERT_GT(fd.norm(), 1e-8) << "the gradient of this group vanishes: the test would be empty";
  const double rel = (analytic - fd).norm() / fd.norm();
  std::printf("%s/bptt %-8s %-2s: %zu steps (%lld rejected), |fd| = %.3e, rel err = %.3e\n",
              scheme == RkScheme::kTsit5 ? "tsit5" : "rk45", point.name.c_str(),
              std::string(group_name(group)).c_str(), steps.size(),
              static_cast<long long>(rk.stats().steps_rejected), fd.norm(), rel);
  EXPECT_LE(rel, kRelTol) << "group " << group_name(group) << ": |analytic| = " << analytic.norm()
                          << ", |fd| = " << fd.norm();
}

class Rk45Gradient : public ::testing::TestWithParam<std::tuple<Point, Group>> {};

TEST_P(Rk45Gradient, MatchesCentralDifferencesOfTheReplayedSteps) {
  expect_bptt_matches_differences(std::get<0>(GetParam()), std::get<1>(GetParam()),
                                  RkScheme::kDopri5);
}

INSTANTIATE_TEST_SUITE_P(AllGroups, Rk45Gradient, test::all_points_and_groups(),
                         test::PointGroupName());

// tsit5/bptt: the same check with Tsitouras's pair.
class Tsit5Gradient : public ::testing::TestWithParam<std::tuple<Point, Group>> {};

TEST_P(Tsit5Gradient, MatchesCentralDifferencesOfTheReplayedSteps) {
  expect_bptt_matches_differences(std::get<0>(GetParam()), std::get<1>(GetParam()),
                                  RkScheme::kTsit5);
}

INSTANTIATE_TEST_SUITE_P(AllGroups, Tsit5Gradient, test::all_points_and_groups(),
                         test::PointGroupName());

// tsit5 and rk45 differentiate two different discrete solutions of the same ODE: at rtol = atol =
// 1e-8 both are within O(tol) x O(T / tau) of the ODE's gradient, so they agree to ~1e-6; a
// wrong coefficient in either would be an O(1) or at least O(h⁴) ≈ 1e-2 difference.
TEST(Tsit5Bptt, AgreesWithRk45) {
  constexpr double kVsRk45Tol = 1e-5;
  for (const Point& point : test::kGradientPoints) {
    const Problem s = make_problem(point);
    Rk45Bptt<double> dp(s.grid, driver_opts(kTol)), ts(s.grid, driver_opts(kTol, RkScheme::kTsit5));
    Params<double> gd(s.net.dims()), gt(s.net.dims());
    loss_and_grad<double>(dp, s.net, s.batch, point.label_type, gd);
    loss_and_grad<double>(ts, s.net, s.batch, point.label_type, gt);
    for (const Group g : kAllGroups) {
      const auto& layout = gd.layout();
      const auto a = gd.flat().segment(layout.offset(g), layout.size(g));
      const auto b = gt.flat().segment(layout.offset(g), layout.size(g));
      const double rel = (a - b).norm() / a.norm();
      std::printf("tsit5 vs rk45 bptt %-8s %-2s: rel %.3e (%zu vs %zu steps)\n", point.name.c_str(),
                  std::string(group_name(g)).c_str(), rel, ts.steps().size(), dp.steps().size());
      EXPECT_LE(rel, kVsRk45Tol) << point.name << " " << group_name(g);
    }
  }
}

TEST(Rk45Bptt, ReplayReproducesTheAdaptiveSolveExactly) {
  // The finite differences above are only of the same computation if replaying the recorded
  // steps at the same θ gives the adaptive solve's ȳ bit for bit.
  const Problem s = make_problem(test::kGradientPoints[1]);
  Rk45Bptt<double> rk(s.grid, driver_opts(kTol));
  VecX<double> y(kTrials), y_replay(kTrials);
  rk.forward(s.net, s.batch, y);
  const std::vector<StepSpan> steps(rk.steps().begin(), rk.steps().end());
  // Replaying into the same object from its own steps() exercises the copy in forward_replay.
  rk.forward_replay(s.net, s.batch, rk.steps(), y_replay);
  EXPECT_EQ(y, y_replay);
  ASSERT_EQ(rk.steps().size(), steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(rk.steps()[i].t0, steps[i].t0);
    EXPECT_EQ(rk.steps()[i].t1, steps[i].t1);
  }
  // No accepted step straddles a stop time (15: the stimulus onset, 90: the window opens).
  for (const StepSpan& st : steps) {
    for (const double stop : {15.0, 90.0}) EXPECT_FALSE(st.t0 < stop && stop < st.t1);
  }
}

TEST(Rk45Bptt, StatsCountTheWork) {
  const Problem s = make_problem(test::kGradientPoints[1]);
  Rk45Bptt<double> rk(s.grid, driver_opts(1e-6));
  Params<double> grad(s.net.dims());
  loss_and_grad<double>(rk, s.net, s.batch, LabelType::kPm1, grad);
  const SolveStats st = rk.stats();
  std::printf("rtol 1e-6: %lld accepted, %lld rejected, %lld f forward, %lld backward\n",
              static_cast<long long>(st.steps_accepted), static_cast<long long>(st.steps_rejected),
              static_cast<long long>(st.rhs_forward), static_cast<long long>(st.rhs_backward));
  EXPECT_EQ(st.steps_accepted, static_cast<std::int64_t>(rk.steps().size()));
  // 6 f evaluations per attempted step, one to start, one for the initial step size and one
  // afresh after each of the two stop times.
  EXPECT_EQ(st.rhs_forward, 6 * (st.steps_accepted + st.steps_rejected) + 4);
  EXPECT_EQ(st.rhs_backward, 11 * st.steps_accepted);  // 5 stage recomputations + 6 products
  EXPECT_LT(st.steps_accepted, 300);
  EXPECT_LT(st.rhs_forward + st.rhs_backward, 2000) << "Euler's 1000 + 1000";
}

// Relative difference of the whole gradient of euler/bptt at step dt and of rk45/bptt at rtol =
// atol = 1e-10 (so that rk45's own error is far below Euler's).
double euler_vs_rk45(const TaskOptions& t, double dt) {
  const Problem s = make_problem(test::kGradientPoints[1], dt, 10, t);
  EulerBptt<double> euler(s.grid);
  Rk45Bptt<double> rk(s.grid, driver_opts(1e-10));
  Params<double> ge(s.net.dims()), gr(s.net.dims());
  loss_and_grad<double>(euler, s.net, s.batch, LabelType::kPm1, ge);
  loss_and_grad<double>(rk, s.net, s.batch, LabelType::kPm1, gr);
  const auto& layout = s.net.theta.layout();
  for (const Group g : kAllGroups) {
    const auto a = ge.flat().segment(layout.offset(g), layout.size(g));
    const auto b = gr.flat().segment(layout.offset(g), layout.size(g));
    std::printf("  euler(dt %.0e) vs rk45(1e-10) %-2s: rel diff %.3e\n", dt,
                std::string(group_name(g)).c_str(), (a - b).norm() / b.norm());
  }
  const double rel = (ge.flat() - gr.flat()).norm() / gr.flat().norm();
  std::printf("euler(dt %.0e) vs rk45(1e-10), T = %.0f: gradient rel diff %.3e\n", dt,
              t.T_burn + t.T_stim, rel);
  return rel;
}

TEST(Rk45Bptt, AgreesWithEulerOnTheDefaultTask) {
  // They differentiate different discretizations of the same ODE and loss (Euler's mean of y(t_k)
  // over the window's grid times against the window integral of a converged rk45 solve), so they
  // agree only as dt -> 0. On the default task every trial has settled on a fixed point long
  // before the window opens at t = 90, and fixed points (and their linearization, which is what
  // the gradient sees there) are the same for Euler and the ODE: the two agree far below Euler's
  // O(dt) error. 1e-3 is the bound a first-order method at dt = 1e-3 must meet anyway; any real
  // error (a missing term, a factor) is O(1).
  constexpr double kAgreement = 1e-3;
  EXPECT_LT(euler_vs_rk45(TaskOptions{}, 1e-3), kAgreement);
}

TEST(Rk45Bptt, EulerGradientConvergesToIt) {
  // The window inside the transient after the stimulus (T_burn = 5, window [7, 15]), where Euler's
  // O(dt) error shows: Euler's gradient must approach rk45/bptt's at first order, i.e. the
  // difference falls about tenfold from dt = 1e-2 to 1e-3 (the constant is O(1): tau = 1, tanh and
  // the inputs are O(1)).
  TaskOptions t;
  t.T_burn = 5.0;
  t.T_stim = 10.0;
  t.T_avg = 8.0;
  const double coarse = euler_vs_rk45(t, 1e-2);
  const double fine = euler_vs_rk45(t, 1e-3);
  constexpr double kAgreement = 1e-2;  // at dt = 1e-3: O(dt) with a constant up to 10
  EXPECT_LT(fine, kAgreement);
  EXPECT_GT(fine, 1e-9) << "different discretizations cannot agree to rounding";
  const double order = std::log10(coarse / fine);
  std::printf("observed order of euler's gradient against rk45/bptt: %.3f\n", order);
  EXPECT_GT(order, 0.8);
  EXPECT_LT(order, 1.2);
}

TEST(Rk45Bptt, FloatAgreesWithDouble) {
  const Problem s = make_problem(test::kGradientPoints[1]);
  const Network<float> net_f = s.net.cast<float>();
  TrialBatch<float> batch_f;
  batch_f.resize(s.batch.n_trials, s.batch.n_steps, s.batch.d_in);
  batch_f.u = s.batch.u.cast<float>();
  batch_f.target = s.batch.target.cast<float>();
  Rk45Bptt<double> rd(s.grid, driver_opts(1e-10));
  Rk45Bptt<float> rf(s.grid, driver_opts(1e-5));
  Params<double> gd(s.net.dims());
  Params<float> gf(s.net.dims());
  loss_and_grad<double>(rd, s.net, s.batch, LabelType::kPm1, gd);
  loss_and_grad<float>(rf, net_f, batch_f, LabelType::kPm1, gf);
  const double rel = (gf.flat().cast<double>() - gd.flat()).norm() / gd.flat().norm();
  std::printf("float rtol 1e-5 (%lld steps) vs double rtol 1e-10: gradient rel diff %.3e\n",
              static_cast<long long>(rf.stats().steps_accepted), rel);
  // rtol 1e-5 on O(1) states (a local error of 1e-5 per step, tens of steps, damped by the
  // contraction) plus float rounding: 1e-3 is two orders above float's 6e-8 and catches any
  // real error, which is O(1).
  EXPECT_LT(rel, 1e-3);
  EXPECT_TRUE(gf.flat().allFinite());
}

TEST(Rk45Bptt, MadeFromTheConfig) {
  const Problem s = make_problem(test::kGradientPoints[1]);
  IntegratorOptions o;
  o.method = Method::kRk45;
  o.gradient = GradientKind::kBptt;
  const auto m = make_gradient_method<double>(o, s.grid);
  EXPECT_NE(dynamic_cast<Rk45Bptt<double>*>(m.get()), nullptr);
  o.gradient = GradientKind::kAdjoint;
  const auto a = make_gradient_method<double>(o, s.grid);
  EXPECT_NE(dynamic_cast<Rk45Adjoint<double>*>(a.get()), nullptr);
}

TEST(Rk45Bptt, NoAllocationOnceSized) {
  LRNN_SKIP_WITHOUT_MALLOC_COUNTER();
  const Problem s = make_problem(test::kGradientPoints[1], 0.1, 50);
  Rk45Bptt<double> rk(s.grid, driver_opts(1e-6));
  Params<double> grad(s.net.dims());
  loss_and_grad<double>(rk, s.net, s.batch, LabelType::kPm1, grad);
  VecX<double> y(kTrials), dL(kTrials);
  dL.setConstant(0.1);
  long count = 0;
  {
    test::MallocCounter counter;
    rk.forward(s.net, s.batch, y);
    rk.backward(s.net, s.batch, dL, grad);
    count = counter.count();
  }
  EXPECT_GT(rk.stats().steps_accepted, 10);
  EXPECT_EQ(count, 0) << "a forward and backward of a known shape allocated";
}

}  // namespace
}  // namespace lrnn
