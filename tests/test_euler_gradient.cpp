// BPTT against central finite differences of the same discrete loss, in double, over the full
// T = 100 with the task's inputs, for every parameter group at several points; deterministic
// and with recurrent noise (Euler-Maruyama, the noise held fixed: it is a function of the trial).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/integrate/euler_bptt.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/loss.hpp"
#include "support/gradient_points.hpp"

namespace lrnn {
namespace {

// Central differences with h = 1e-4 have truncation error ~h² |L'''| / 6 ≈ 1e-9 and rounding error
// ~eps |L| / h ≈ 1e-12 against gradient entries of 1e-4 .. 1, so agreement to 1e-6 relative is a
// strict test of the derivative.
constexpr double kFdStep = 1e-4;
constexpr double kRelTol = 1e-6;

using Point = test::GradientPoint;

// Large enough to move the trajectories far from the noise-free ones (the stationary std of a
// unit is about sigma), so that a backward pass that missed the noise would fail.
constexpr double kNoiseStd = 0.3;

class EulerGradient : public ::testing::TestWithParam<std::tuple<Point, Group>> {};
class EulerMaruyamaGradient : public ::testing::TestWithParam<std::tuple<Point, Group>> {};

double loss_of(const Network<double>& net, const TrialBatch<double>& batch, const TimeGrid& grid,
               LabelType type) {
  EulerBptt<double> e(grid);
  VecX<double> y(batch.n_trials);
  e.forward(net, batch, y);
  return batch_loss<double>(type, y, batch.target, static_cast<double>(batch.n_trials), nullptr);
}

void check_gradient(const Point& point, Group group, double noise_std) {
  RnnOptions o;
  o.N = 10;
  o.R = 2;
  o.M_init_std = o.N_init_std = o.B_init_std = o.w_init_std = point.init_scale;
  o.noise_std = noise_std;
  auto net = init_network<double>(o, 123);
  net.theta.b() = point.bias;
  TaskOptions t;  // the full T = 100 task
  t.label_type = point.label_type;
  const double dt = 0.1;
  ContextSwitchTask task(t, dt, 7, 100, 1, 1);
  std::vector<std::int64_t> idx = {0, 1, 2, 3, 4, 5};
  TrialBatch<double> batch;
  task.fill(Split::kTrain, idx.data(), 6, batch);
  const TimeGrid& grid = task.grid();

  EulerBptt<double> e(grid);
  VecX<double> y(6), dL(6);
  e.forward(net, batch, y);
  batch_loss<double>(point.label_type, y, batch.target, 6.0, &dL);
  Params<double> grad(net.dims());
  e.backward(net, batch, dL, grad);

  const Index off = net.theta.layout().offset(group);
  const Index len = net.theta.layout().size(group);
  VecX<double> fd(len);
  for (Index i = 0; i < len; ++i) {
    Network<double> p = net;
    p.theta.flat()[off + i] += kFdStep;
    const double up = loss_of(p, batch, grid, point.label_type);
    p.theta.flat()[off + i] -= 2 * kFdStep;
    const double down = loss_of(p, batch, grid, point.label_type);
    fd[i] = (up - down) / (2 * kFdStep);
  }
  const VecX<double> analytic = grad.flat().segment(off, len);
  ASSERT_GT(fd.norm(), 1e-8) << "the gradient of this group vanishes: the test would be empty";
  const double rel = (analytic - fd).norm() / fd.norm();
  EXPECT_LE(rel, kRelTol) << "group " << group_name(group) << ": |analytic| = " << analytic.norm()
                          << ", |fd| = " << fd.norm();
}

TEST_P(EulerGradient, MatchesCentralDifferences) {
  const auto& [point, group] = GetParam();
  check_gradient(point, group, 0.0);
}

TEST_P(EulerMaruyamaGradient, MatchesCentralDifferences) {
  const auto& [point, group] = GetParam();
  check_gradient(point, group, kNoiseStd);
}

INSTANTIATE_TEST_SUITE_P(AllGroups, EulerGradient, test::all_points_and_groups(),
                         test::PointGroupName());
INSTANTIATE_TEST_SUITE_P(AllGroups, EulerMaruyamaGradient, test::all_points_and_groups(),
                         test::PointGroupName());

TEST(EulerMaruyama, StationaryStdOfALeakyUnit) {
  // With J = 0 and no input, x_{k+1} = (1 - α) x_k + sigma sqrt(2 α) xi_k has the stationary
  // variance sigma² / (1 - α/2): at α = 0.1 and 0.5 that is 2.6 % and 15.5 % above sigma², both
  // far outside the estimate's standard error (about 0.3 % of the std here).
  constexpr double kSigma = 0.05;
  constexpr double kStdTol = 0.01;
  for (const double dt : {0.1, 0.5}) {
    RnnOptions o;
    o.N = 500;
    o.g = 0.0;
    o.M_init_std = o.N_init_std = o.B_init_std = o.w_init_std = 0.0;
    o.noise_std = kSigma;
    const auto net = init_network<double>(o, 3);
    const TimeGrid grid = make_time_grid(TaskOptions{}, dt);
    TrialBatch<double> batch;
    batch.resize(16, grid.K, 4);
    batch.u.setZero();
    batch.target.setOnes();
    for (int j = 0; j < 16; ++j) batch.index[static_cast<std::size_t>(j)] = j;
    EulerBptt<double> e(grid);
    VecX<double> y(16);
    e.forward(net, batch, y);
    // From t = 20 on (20 time constants: the start x_0 = 0 is forgotten).
    double sq = 0;
    Index n = 0;
    for (Index k = grid.K / 5; k <= grid.K; ++k) {
      const MatX<double> x = e.tape_step(k).array().atanh();
      sq += x.squaredNorm();
      n += x.size();
    }
    const double alpha = dt / o.tau;
    const double expected = kSigma / std::sqrt(1.0 - alpha / 2.0);
    EXPECT_NEAR(std::sqrt(sq / static_cast<double>(n)) / expected, 1.0, kStdTol) << "dt " << dt;
  }
}

TEST(EulerMaruyama, NoiseChangesTheSolutionAndTheGradient) {
  // Guards the test above: with the noise on, ȳ and dL/dθ must differ from the deterministic ones.
  RnnOptions o;
  o.N = 10;
  auto net = init_network<double>(o, 123);
  TaskOptions t;
  ContextSwitchTask task(t, 0.1, 7, 100, 1, 1);
  std::vector<std::int64_t> idx = {0, 1, 2};
  TrialBatch<double> batch;
  task.fill(Split::kTrain, idx.data(), 3, batch);
  const auto solve = [&](double sigma, Params<double>& grad) {
    net.noise_std = sigma;
    EulerBptt<double> e(task.grid());
    VecX<double> y(3), dL(3);
    e.forward(net, batch, y);
    batch_loss<double>(LabelType::kPm1, y, batch.target, 3.0, &dL);
    grad = Params<double>(net.dims());
    e.backward(net, batch, dL, grad);
    return y;
  };
  Params<double> g0, g1;
  const VecX<double> y0 = solve(0.0, g0);
  const VecX<double> y1 = solve(kNoiseStd, g1);
  EXPECT_GT((y1 - y0).norm(), 1e-3 * y0.norm());
  EXPECT_GT((g1.flat() - g0.flat()).norm(), 1e-3 * g0.flat().norm());
}

TEST(EulerGradientFloat, AgreesWithDouble) {
  // float32 BPTT of the same network: agreement to float precision over 1000 steps.
  RnnOptions o;
  o.N = 40;
  const auto net = init_network<double>(o, 5);
  const auto netf = net.cast<float>();
  TaskOptions t;
  ContextSwitchTask task(t, 0.1, 3, 100, 1, 1);
  std::vector<std::int64_t> idx = {0, 1, 2, 3};
  TrialBatch<double> bd;
  TrialBatch<float> bf;
  task.fill(Split::kTrain, idx.data(), 4, bd);
  task.fill(Split::kTrain, idx.data(), 4, bf);
  EulerBptt<double> ed(task.grid());
  EulerBptt<float> ef(task.grid());
  VecX<double> yd(4), dd(4);
  VecX<float> yf(4), df(4);
  ed.forward(net, bd, yd);
  ef.forward(netf, bf, yf);
  batch_loss<double>(LabelType::kPm1, yd, bd.target, 4, &dd);
  batch_loss<float>(LabelType::kPm1, yf, bf.target, 4, &df);
  Params<double> gd(net.dims());
  Params<float> gf(net.dims());
  ed.backward(net, bd, dd, gd);
  ef.backward(netf, bf, df, gf);
  const double rel = (gf.flat().cast<double>() - gd.flat()).norm() / gd.flat().norm();
  EXPECT_LT(rel, 1e-4);  // float eps 6e-8 accumulated over 1000 steps of a contracting system
}

}  // namespace
}  // namespace lrnn
