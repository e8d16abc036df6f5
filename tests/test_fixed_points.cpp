// The fixed-point finder against known answers: derivatives against central differences, the
// rank-1 network without bulk whose fixed points solve a scalar equation, Arnoldi against a dense
// eigendecomposition, and trial ends landing on the reported stable points.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "lrnn/analysis/fixed_points.hpp"
#include "lrnn/core/random.hpp"

namespace lrnn {
namespace {

// Central differences in double with h = 1e-6 on O(1) functions: truncation h² ~ 1e-12 and
// rounding 1e-16 / h ~ 1e-10.
constexpr double kFiniteDifferenceTol = 1e-7;
// Newton polishes to |F|_inf <= 1e-12 here; x and kappa then match the scalar root to the
// conditioning of A times that, far inside the 1e-8.
constexpr double kKnownAnswerTol = 1e-8;

VecX<double> normals(Index n, std::uint64_t index) {
  Philox rng(99, Stream::kFixedPointStarts, index);
  VecX<double> v(n);
  for (Index i = 0; i < n; ++i) v[i] = rng.normal();
  return v;
}

// A network with entries of order 1 in M, n, B, w and C_ij ~ N(0, 1/N).
Network<double> make_network(Index N, Index R, double g, std::uint64_t seed) {
  Network<double> net;
  net.theta = Params<double>(Dims{N, R, 4});
  net.g = g;
  net.tau = 1.0;
  for (Index r = 0; r < R; ++r) {
    net.theta.M().col(r) = normals(N, seed * 100 + static_cast<std::uint64_t>(r));
    net.theta.n().col(r) = normals(N, seed * 100 + 10 + static_cast<std::uint64_t>(r));
  }
  for (Index k = 0; k < 4; ++k) {
    net.theta.B().col(k) = normals(N, seed * 100 + 20 + static_cast<std::uint64_t>(k));
  }
  net.theta.w() = normals(N, seed * 100 + 30);
  net.theta.b() = 0.1;
  net.C.resize(N, N);
  for (Index j = 0; j < N; ++j) {
    net.C.col(j) = normals(N, seed * 100000 + 1000 + static_cast<std::uint64_t>(j)) /
                   std::sqrt(static_cast<double>(N));
  }
  return net;
}

// Rank 1, g = 0, n = a m + noise: overlap n·m/N ≈ a.
Network<double> rank1_no_bulk(Index N, double a) {
  Network<double> net = make_network(N, 1, 0.0, 5);
  net.theta.n().col(0) = a * net.theta.M().col(0) + 0.3 * normals(N, 777);
  return net;
}

// kappa = (1/N) sum_i n_i tanh(m_i kappa), kappa > 0, by Newton on the scalar equation.
double scalar_root(const Network<double>& net, double kappa) {
  const auto m = net.theta.M().col(0).array();
  const auto n = net.theta.n().col(0).array();
  const double N = static_cast<double>(m.size());
  for (int it = 0; it < 100; ++it) {
    const Eigen::ArrayXd t = (m * kappa).tanh();
    const double f = (n * t).sum() / N - kappa;
    const double df = (n * m * (1.0 - t.square())).sum() / N - 1.0;
    kappa -= f / df;
  }
  return kappa;
}

// The one nontrivial eigenvalue of A at x = m kappa: -1 + (1/N) sum_i n_i phi'(m_i kappa) m_i.
double analytic_eigenvalue(const Network<double>& net, double kappa) {
  const auto m = net.theta.M().col(0).array();
  const auto n = net.theta.n().col(0).array();
  return (n * m * (1.0 - (m * kappa).tanh().square())).sum() / static_cast<double>(m.size()) - 1.0;
}

std::vector<ConstantInput> zero_input() {
  ConstantInput in;
  in.name = "u = 0";
  in.u = VecX<double>::Zero(4);
  in.t_after = 50.0;
  return {in};
}

TEST(FixedPoints, GradientOfQMatchesCentralDifferences) {
  const Network<double> net = make_network(30, 2, 0.8, 1);
  const VecX<double> u = 0.5 * normals(4, 1);
  const auto q = [&](const VecX<double>& x) { return 0.5 * dynamics_rhs(net, u, x).squaredNorm(); };
  for (const double scale : {0.0, 0.3, 1.5}) {
    const VecX<double> x = scale * normals(30, 2);
    const VecX<double> g = slowness_gradient(net, u, x);
    constexpr double h = 1e-6;
    for (Index i = 0; i < x.size(); ++i) {
      VecX<double> xp = x, xm = x;
      xp[i] += h;
      xm[i] -= h;
      const double fd = (q(xp) - q(xm)) / (2 * h);
      EXPECT_NEAR(g[i], fd, kFiniteDifferenceTol * std::max(1.0, std::abs(fd)))
          << "unit " << i << " scale " << scale;
    }
  }
}

TEST(FixedPoints, JacobianMatchesCentralDifferences) {
  const Network<double> net = make_network(30, 2, 0.8, 2);
  const VecX<double> u = normals(4, 3);
  const VecX<double> x = normals(30, 4);
  const MatX<double> A = dynamics_jacobian(net, x);
  constexpr double h = 1e-6;
  for (Index j = 0; j < x.size(); ++j) {
    VecX<double> xp = x, xm = x;
    xp[j] += h;
    xm[j] -= h;
    const VecX<double> fd = (dynamics_rhs(net, u, xp) - dynamics_rhs(net, u, xm)) / (2 * h);
    EXPECT_LT((A.col(j) - fd).cwiseAbs().maxCoeff(), kFiniteDifferenceTol) << "column " << j;
  }
}

TEST(FixedPoints, Rank1WithoutBulkSolvesTheScalarEquation) {
  const Network<double> net = rank1_no_bulk(200, 2.0);
  const double kappa_star = scalar_root(net, 1.0);
  ASSERT_GT(kappa_star, 0.1);
  FixedPointOptions o;
  o.newton_tol = 1e-12;
  const FixedPointReport r = find_fixed_points(net, zero_input(), o);
  ASSERT_EQ(r.conditions.size(), 1u);
  const std::vector<FixedPoint>& pts = r.conditions[0].points;
  // x = 0 (a saddle: overlap 2 > 1) and x = ±m kappa* (stable), nothing else.
  ASSERT_EQ(pts.size(), 3u);
  for (const FixedPoint& p : pts) EXPECT_TRUE(p.root);
  const auto m = net.theta.M().col(0);
  const double expected_kappa[3] = {-kappa_star, kappa_star, 0.0};
  const PointKind expected_kind[3] = {PointKind::kStable, PointKind::kStable, PointKind::kSaddle};
  for (int k = 0; k < 3; ++k) {
    const FixedPoint& p = pts[static_cast<std::size_t>(k)];
    const double kappa = expected_kappa[k];
    EXPECT_EQ(p.kind, expected_kind[k]) << "point " << k << " kind " << to_string(p.kind);
    EXPECT_NEAR(p.kappa[0], kappa, kKnownAnswerTol);
    EXPECT_LT((p.x - m * kappa).cwiseAbs().maxCoeff(), kKnownAnswerTol);
    // The rightmost eigenvalue is the analytic one (the others are -1).
    ASSERT_FALSE(p.eigenvalues.empty());
    EXPECT_NEAR(p.eigenvalues[0].real(), analytic_eigenvalue(net, kappa), kKnownAnswerTol);
    EXPECT_NEAR(p.eigenvalues[0].imag(), 0.0, kKnownAnswerTol);
    EXPECT_EQ(p.unstable, analytic_eigenvalue(net, kappa) > 0 ? 1 : 0);
  }
}

TEST(FixedPoints, Rank1WithWeakOverlapHasOnlyTheStableOrigin) {
  const Network<double> net = rank1_no_bulk(200, 0.5);
  const FixedPointReport r = find_fixed_points(net, zero_input());
  const std::vector<FixedPoint>& pts = r.conditions[0].points;
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(pts[0].kind, PointKind::kStable);
  EXPECT_LT(pts[0].x.cwiseAbs().maxCoeff(), kKnownAnswerTol);
  EXPECT_NEAR(pts[0].eigenvalues[0].real(), analytic_eigenvalue(net, 0.0), kKnownAnswerTol);
  EXPECT_LT(analytic_eigenvalue(net, 0.0), 0.0);
}

TEST(FixedPoints, ArnoldiFindsTheRightmostEigenvaluesOfTheDenseJacobian) {
  // Strong rank-2 structure on a bulk: two outliers to the right of the bulk disk.
  const Index N = 150;
  Network<double> net = make_network(N, 2, 0.8, 3);
  net.theta.n() = 2.5 * net.theta.M() + 0.5 * net.theta.n();
  const VecX<double> x = 0.4 * normals(N, 5);
  const RitzValues ritz = leading_eigenvalues(net, x, 60);
  Eigen::EigenSolver<MatX<double>> dense(dynamics_jacobian(net, x), false);
  std::vector<std::complex<double>> exact(dense.eigenvalues().begin(), dense.eigenvalues().end());
  std::sort(exact.begin(), exact.end(),
            [](const auto& a, const auto& b) { return a.real() > b.real(); });
  ASSERT_GT(exact[0].real(), 0.0);  // the test is about a point with an unstable direction
  // Outliers converge to rounding within 60 steps; the residual says so.
  constexpr double kRitzTol = 1e-8;
  for (int k = 0; k < 2; ++k) {
    const auto i = static_cast<std::size_t>(k);
    EXPECT_LT(ritz.residuals[i], kRitzTol);
    EXPECT_LT(std::abs(ritz.values[i] - exact[i]), kRitzTol) << ritz.values[i] << " " << exact[i];
  }
}

TEST(FixedPoints, NewtonConvergesToARootOfF) {
  const Network<double> net = make_network(80, 2, 0.8, 4);
  const VecX<double> u = normals(4, 6);
  const NewtonResult r = newton_solve(net, u, VecX<double>::Zero(80), 1e-12, 50);
  ASSERT_TRUE(r.converged);
  EXPECT_LE(dynamics_rhs(net, u, r.x).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(FixedPoints, TrialEndsLandOnReportedStablePoints) {
  // Bistable rank-2 network with a bulk; the inputs push towards different attractors.
  const Index N = 120;
  Network<double> net = make_network(N, 2, 0.6, 6);
  net.theta.n() = 2.0 * net.theta.M() + 0.5 * net.theta.n();
  std::vector<ConstantInput> inputs;
  for (int k = 0; k < 4; ++k) {
    ConstantInput in;
    in.name = "input " + std::to_string(k);
    in.u = 0.3 * normals(4, 50 + static_cast<std::uint64_t>(k));
    in.u_before = VecX<double>::Zero(4);
    in.t_before = 5.0;
    in.t_after = 60.0;
    inputs.push_back(in);
  }
  FixedPointOptions o;
  o.threads = 2;
  const FixedPointReport r = find_fixed_points(net, inputs, o);
  ASSERT_EQ(r.conditions.size(), inputs.size());
  for (const ConditionPoints& c : r.conditions) {
    EXPECT_LE(c.trial.settled_F_norm, o.settle_tol) << c.input.name;
    ASSERT_GE(c.trial.point, 0) << c.input.name;
    const FixedPoint& p = c.points[static_cast<std::size_t>(c.trial.point)];
    EXPECT_EQ(p.kind, PointKind::kStable) << c.input.name;
    EXPECT_LT(c.trial.kappa_distance, 1e-4) << c.input.name;
    for (const FixedPoint& q : c.points) {
      if (q.root) {
        EXPECT_LE(dynamics_rhs(net, c.input.u, q.x).cwiseAbs().maxCoeff(), o.newton_tol);
      }
    }
  }
}

TEST(FixedPoints, OptionsOutOfRangeAreRejected) {
  std::string error;
  FixedPointOptions o;
  EXPECT_TRUE(o.IsValid(&error));
  o.starts = 2;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_EQ(error, "starts = 2: must be >= 4");
  o = {};
  o.threads = 0;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_THROW(find_fixed_points(make_network(10, 1, 0.5, 7), zero_input(), o),
               std::invalid_argument);
}

}  // namespace
}  // namespace lrnn
