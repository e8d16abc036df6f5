// BPTT against central finite differences of the same discrete loss, in double, over the full
// T = 100 with the task's inputs, for every parameter group at several points.
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "lrnn/integrate/euler_bptt.hpp"
#include "lrnn/io/config.hpp"
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

class EulerGradient : public ::testing::TestWithParam<std::tuple<Point, Group>> {};

double loss_of(const Network<double>& net, const TrialBatch<double>& batch, const TimeGrid& grid,
               LabelType type) {
  EulerBptt<double> e(grid);
  VecX<double> y(batch.n_trials);
  e.forward(net, batch, y);
  return batch_loss<double>(type, y, batch.target, static_cast<double>(batch.n_trials), nullptr);
}

TEST_P(EulerGradient, MatchesCentralDifferences) {
  const auto& [point, group] = GetParam();
  RnnOptions o;
  o.N = 10;
  o.R = 2;
  o.M_init_std = o.N_init_std = o.B_init_std = o.w_init_std = point.init_scale;
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

INSTANTIATE_TEST_SUITE_P(AllGroups, EulerGradient, test::all_points_and_groups(),
                         test::PointGroupName());

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
