// The mean field against exact Gaussian moments, an independent quadrature of the bulk's
// self-consistency, and a large network drawn from the Gaussian it describes.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "lrnn/analysis/mean_field.hpp"
#include "lrnn/core/random.hpp"

namespace lrnn {
namespace {

// A rank-1 mixture of one population over v = (m, n, B1..B4, w) with n = a m + noise.
GaussianMixture rank1_gaussian(double a) {
  const Index P = 7;
  GaussianMixture g;
  g.weights = VecX<double>::Ones(1);
  VecX<double> mean = VecX<double>::Zero(P);
  MatX<double> S = MatX<double>::Identity(P, P);
  S(1, 0) = S(0, 1) = a;
  S(1, 1) = a * a + 0.09;
  mean[6] = 0.0;
  g.means = {mean};
  g.covs = {S};
  g.n = 1000;
  return g;
}

TEST(MeanField, GaussHermiteIsExactForPolynomials) {
  VecX<double> z, w;
  gauss_hermite(20, z, w);
  const double mu = 0.7, delta = 1.3;
  double m4 = 0.0;
  for (Index i = 0; i < z.size(); ++i) {
    m4 += w[i] * std::pow(mu + std::sqrt(2 * delta) * z[i], 4);
  }
  m4 /= std::sqrt(std::numbers::pi);
  // E x^4 for x ~ N(mu, delta); 20 nodes integrate degree 39 exactly: rounding only.
  EXPECT_NEAR(m4, std::pow(mu, 4) + 6 * mu * mu * delta + 3 * delta * delta, 1e-12);
}

TEST(MeanField, BulkVarianceSolvesItsSelfConsistency) {
  const GaussianMixture g = rank1_gaussian(0.5);
  const MeanField mf(g, Dims{100, 1, 4}, 0.8, 0.0);
  VecX<double> kappa(1), u(4);
  kappa << 0.4;
  u << 0.3, -0.2, 0.1, 0.5;
  double y = 0.0, d0 = 0.0;
  mf.latent_map(kappa, u, &y, &d0);
  // Independent check: Delta_0 = g² E tanh²(x), x ~ N(0, kappa² + |u|² + Delta_0) (B ~ N(0, I),
  // zero means), by the trapezoid rule on a fine grid.
  const double var = kappa[0] * kappa[0] + u.squaredNorm() + d0;
  double e = 0.0;
  const int n = 20000;
  const double L = 12.0 * std::sqrt(var), h = 2 * L / n;
  for (int i = 0; i <= n; ++i) {
    const double x = -L + i * h;
    const double f = std::tanh(x) * std::tanh(x) * std::exp(-x * x / (2 * var));
    e += (i == 0 || i == n ? 0.5 : 1.0) * f * h;
  }
  e /= std::sqrt(2 * std::numbers::pi * var);
  EXPECT_GT(d0, 0.05);
  EXPECT_NEAR(d0, 0.64 * e, 1e-9);
}

TEST(MeanField, FixedPointsOfALargeRank1NetworkMatchWithinItsFiniteSizeError) {
  // g = 0, u = 0: kappa = (1/N) Σ n_i tanh(m_i kappa) for the network, kappa = a kappa <phi'>
  // for the mean field: their roots differ by O(1/√N).
  const double a = 2.0;
  const Index N = 20000;
  Philox rng(5, Stream::kMixtureLoadings, 0);
  Eigen::ArrayXd m(N), nv(N);
  for (Index i = 0; i < N; ++i) {
    m[i] = rng.normal();
    nv[i] = a * m[i] + 0.3 * rng.normal();
  }
  double k_net = 1.0;
  for (int it = 0; it < 100; ++it) {
    const Eigen::ArrayXd t = (m * k_net).tanh();
    const double f = (nv * t).mean() - k_net;
    const double df = (nv * m * (1 - t.square())).mean() - 1;
    k_net -= f / df;
  }
  const MeanField mf(rank1_gaussian(a), Dims{N, 1, 4}, 0.0, 0.0);
  std::vector<VecX<double>> starts = {VecX<double>::Constant(1, 1.0),
                                      VecX<double>::Constant(1, -1.0),
                                      VecX<double>::Constant(1, 0.0)};
  const std::vector<MeanField::Point> pts = mf.fixed_points(VecX<double>::Zero(4), starts);
  ASSERT_EQ(pts.size(), 3u);  // +kappa*, -kappa*, 0
  int stable = 0;
  bool found = false;
  for (const MeanField::Point& p : pts) {
    stable += p.stable;
    if (std::abs(p.kappa[0] - k_net) < 5.0 / std::sqrt(static_cast<double>(N))) found = true;
    if (std::abs(p.kappa[0]) < 1e-9) {
      EXPECT_FALSE(p.stable);  // a = 2 > 1: 0 is unstable
    }
  }
  EXPECT_EQ(stable, 2);
  EXPECT_TRUE(found) << "network kappa " << k_net;
}

}  // namespace
}  // namespace lrnn
