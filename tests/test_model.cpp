// The Euler forward pass against a naive implementation that forms J and loops over everything.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/integrate/euler_bptt.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/context_switch.hpp"

namespace lrnn {
namespace {

// ȳ of one trial by the textbook recursion with an explicit J = g C + M nᵀ / N.
double naive_ybar(const Network<double>& net, const TrialBatch<double>& batch, Index trial,
                  const TimeGrid& grid) {
  const Index N = net.dims().N;
  const MatX<double> J = net.g * net.C + net.theta.M() * net.theta.n().transpose() / double(N);
  std::vector<double> x(N, 0.0), xn(N);
  double ysum = 0.0;
  const double a = grid.dt / net.tau;
  for (Index k = 0; k < grid.K; ++k) {
    for (Index i = 0; i < N; ++i) {
      double rec = 0.0;
      for (Index j = 0; j < N; ++j) rec += J(i, j) * std::tanh(x[j]);
      double inp = 0.0;
      for (Index c = 0; c < batch.d_in; ++c) inp += net.theta.B()(i, c) * batch.u_step(k)(c, trial);
      xn[i] = x[i] + a * (-x[i] + rec + inp);
    }
    x = xn;
    if (grid.in_window(k + 1)) {
      double y = net.theta.b();
      for (Index i = 0; i < N; ++i) y += net.theta.w()[i] * std::tanh(x[i]) / double(N);
      ysum += y;
    }
  }
  return ysum / double(grid.m_window);
}

TEST(Network, InitHasTheDesignedScales) {
  RnnOptions o;
  o.N = 400;
  o.M_init_std = 2.0;
  const auto net = init_network<double>(o, 3);
  // Var(C_ij) = 1/N: N² = 160000 samples, relative error of the variance ≈ 0.35 %.
  EXPECT_NEAR(net.C.squaredNorm() / (400.0 * 400.0), 1.0 / 400.0, 0.05 / 400.0);
  EXPECT_NEAR(net.theta.M().squaredNorm() / 800.0, 4.0 / 400.0, 0.5 / 400.0);
  EXPECT_NEAR(net.theta.B().squaredNorm() / 1600.0, 1.0 / 4.0, 0.03);
  EXPECT_EQ(net.theta.b(), 0.0);
  EXPECT_EQ(net.theta.layout().total(), 2 * 400 * 2 + 400 * 4 + 400 + 1);
  // float and double draw the same numbers.
  const auto netf = init_network<float>(o, 3);
  EXPECT_EQ(netf.C(5, 7), static_cast<float>(net.C(5, 7)));
  // ParamLayout: 4501 numbers for the default network.
  EXPECT_EQ(ParamLayout(Dims{500, 2, 4}).total(), 4501);
}

TEST(EulerForward, MatchesNaiveRecursion) {
  RnnOptions o;
  o.N = 7;
  o.R = 2;
  o.g = 1.3;
  o.tau = 0.7;
  o.M_init_std = 3.0;
  o.N_init_std = 3.0;
  o.w_init_std = 4.0;
  auto net = init_network<double>(o, 17);
  net.theta.b() = 0.25;
  TaskOptions t;
  t.T_burn = 1.0;
  t.T_stim = 4.0;
  t.T_avg = 1.5;
  const double dt = 0.1;
  ContextSwitchTask task(t, dt, 4, 10, 1, 1);
  std::vector<std::int64_t> idx = {0, 1, 2, 3, 4};
  TrialBatch<double> batch;
  task.fill(Split::kTrain, idx.data(), 5, batch);
  EulerBptt<double> euler(task.grid());
  VecX<double> y_bar(5);
  euler.forward(net, batch, y_bar);
  for (Index j = 0; j < 5; ++j) {
    // Same arithmetic in another order: agreement to a few ulps of the O(1) readout.
    EXPECT_NEAR(y_bar[j], naive_ybar(net, batch, j, task.grid()), 1e-12) << "trial " << j;
  }
  EXPECT_EQ(euler.stats().rhs_forward, task.grid().K);
}

TEST(EulerForward, BatchCompositionDoesNotChangeATrial) {
  RnnOptions o;
  o.N = 30;
  const auto net = init_network<double>(o, 1);
  TaskOptions t;
  ContextSwitchTask task(t, 0.1, 4, 100, 1, 1);
  std::vector<std::int64_t> a = {5, 6, 7, 8}, b = {7};
  TrialBatch<double> ba, bb;
  task.fill(Split::kTrain, a.data(), 4, ba);
  task.fill(Split::kTrain, b.data(), 1, bb);
  EulerBptt<double> e1(task.grid()), e2(task.grid());
  VecX<double> ya(4), yb(1);
  e1.forward(net, ba, ya);
  e2.forward(net, bb, yb);
  EXPECT_NEAR(ya[2], yb[0], 1e-13);
}

// Order test of the Euler integrator on a linear ODE with a known solution: with g = 0 and
// M = n = 0 the network is tau dx/dt = -x + B u, i.e. y' = A y + c with A = -I/tau, whose exact
// solution on each interval of constant input is x_inf + (x - x_inf) e^{-t/tau}. The readouts
// are compared at the same grid times, so the error is Euler's alone: slope of log error against
// log dt ≈ 1.
TEST(EulerForward, FirstOrderOnALinearOde) {
  RnnOptions o;
  o.N = 6;
  o.g = 0.0;
  o.tau = 2.0;
  o.w_init_std = 5.0;
  auto net = init_network<double>(o, 8);
  net.theta.M().setZero();
  net.theta.n().setZero();
  TaskOptions t;
  t.T_burn = 2.0;
  t.T_stim = 6.0;
  t.T_avg = 2.0;
  std::vector<double> log_dt, log_err;
  for (int k = 3; k <= 8; ++k) {
    const double dt = std::ldexp(1.0, -k);
    ContextSwitchTask task(t, dt, 3, 4, 1, 1);
    std::vector<std::int64_t> idx = {0, 1, 2, 3};
    TrialBatch<double> batch;
    task.fill(Split::kTrain, idx.data(), 4, batch);
    const TimeGrid& grid = task.grid();
    EulerBptt<double> euler(grid);
    VecX<double> y(4);
    euler.forward(net, batch, y);
    double err = 0.0;
    for (Index j = 0; j < 4; ++j) {
      // Exact x(t_k): the input is constant on [0, T_burn) and on [T_burn, T].
      const VecX<double> x_burn_inf = net.theta.B() * batch.u_step(0).col(j);
      const VecX<double> x_stim_inf = net.theta.B() * batch.u_step(grid.K - 1).col(j);
      const VecX<double> x_burn = x_burn_inf * (1.0 - std::exp(-t.T_burn / o.tau));
      double ysum = 0.0;
      for (Index kk = grid.window_first(); kk <= grid.K; ++kk) {
        const double s = grid.time(kk) - t.T_burn;
        const VecX<double> x = x_stim_inf + (x_burn - x_stim_inf) * std::exp(-s / o.tau);
        ysum += net.theta.w().dot(x.array().tanh().matrix()) / o.N + net.theta.b();
      }
      err = std::max(err, std::abs(y[j] - ysum / static_cast<double>(grid.m_window)));
    }
    log_dt.push_back(std::log(dt));
    log_err.push_back(std::log(err));
  }
  // Least-squares slope.
  const double n = static_cast<double>(log_dt.size());
  const double mx = std::accumulate(log_dt.begin(), log_dt.end(), 0.0) / n;
  const double my = std::accumulate(log_err.begin(), log_err.end(), 0.0) / n;
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < log_dt.size(); ++i) {
    sxy += (log_dt[i] - mx) * (log_err[i] - my);
    sxx += (log_dt[i] - mx) * (log_dt[i] - mx);
  }
  const double slope = sxy / sxx;
  std::printf("Euler order on tau dx/dt = -x + B u: %.3f\n", slope);
  EXPECT_NEAR(slope, 1.0, 0.15);
}

}  // namespace
}  // namespace lrnn
