// The Gaussian mixture against a planted two-population sample, BIC's choice of P, and the
// population structure of networks resampled from a mixture.
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <cmath>
#include <vector>

#include "lrnn/analysis/mixture.hpp"
#include "lrnn/core/random.hpp"

namespace lrnn {
namespace {

// The criterion: fitted weights, means and covariances within 5 standard errors.
constexpr double kStandardErrors = 5.0;

struct Planted {
  std::vector<double> weights{0.3, 0.7};
  std::vector<VecX<double>> means;
  std::vector<MatX<double>> covs;
};

Planted planted() {
  Planted p;
  VecX<double> m0(3), m1(3);
  m0 << 2.0, -1.0, 0.5;
  m1 << -1.0, 1.0, 0.0;
  MatX<double> c0(3, 3), c1(3, 3);
  c0 << 0.5, 0.2, 0.0, 0.2, 0.4, 0.1, 0.0, 0.1, 0.3;
  c1 << 1.0, -0.3, 0.2, -0.3, 0.8, 0.0, 0.2, 0.0, 0.6;
  p.means = {m0, m1};
  p.covs = {c0, c1};
  return p;
}

MatX<double> sample(const Planted& p, Index n, std::uint64_t seed) {
  MatX<double> X(n, 3);
  const Index n0 = static_cast<Index>(std::llround(p.weights[0] * static_cast<double>(n)));
  for (Index i = 0; i < n; ++i) {
    const std::size_t k = i < n0 ? 0 : 1;
    const MatX<double> L = p.covs[k].llt().matrixL();
    Philox rng(seed, Stream::kMixtureLoadings, static_cast<std::uint64_t>(i));
    VecX<double> z(3);
    for (Index j = 0; j < 3; ++j) z[j] = rng.normal();
    X.row(i) = (p.means[k] + L * z).transpose();
  }
  return X;
}

TEST(Mixture, RecoversAPlantedTwoPopulationMixtureWithinFiveStandardErrors) {
  const Planted p = planted();
  const Index n = 4000;
  MixtureOptions o;
  o.components = 2;
  const GaussianMixture g = fit_mixture(sample(p, n, 1), o);
  ASSERT_EQ(g.components(), 2);
  // Match the fitted components to the planted ones by their first mean coordinate.
  const std::size_t a = g.means[0][0] > g.means[1][0] ? 0 : 1;
  const std::size_t order[2] = {a, 1 - a};
  for (std::size_t k = 0; k < 2; ++k) {
    const std::size_t f = order[k];
    const double w = p.weights[k];
    const double nk = w * static_cast<double>(n);
    // The sample fixes the counts (no multinomial noise), so this bound is generous.
    EXPECT_NEAR(g.weights[static_cast<Index>(f)], w,
                kStandardErrors * std::sqrt(w * (1 - w) / static_cast<double>(n)));
    for (Index i = 0; i < 3; ++i) {
      EXPECT_NEAR(g.means[f][i], p.means[k][i], kStandardErrors * std::sqrt(p.covs[k](i, i) / nk))
          << "component " << k << " mean " << i;
      for (Index j = 0; j < 3; ++j) {
        const MatX<double>& S = p.covs[k];
        const double se = std::sqrt((S(i, i) * S(j, j) + S(i, j) * S(i, j)) / nk);
        EXPECT_NEAR(g.covs[f](i, j), S(i, j), kStandardErrors * se)
            << "component " << k << " cov " << i << "," << j;
      }
    }
  }
}

TEST(Mixture, BicPicksTwoComponentsForThePlantedSample) {
  const MatX<double> X = sample(planted(), 1000, 2);
  std::vector<double> bic;
  for (int P = 1; P <= 4; ++P) {
    MixtureOptions o;
    o.components = P;
    o.starts = 4;  // well-separated populations: a few starts find the optimum (and keep it fast)
    bic.push_back(fit_mixture(X, o).bic());
  }
  const auto best = std::min_element(bic.begin(), bic.end()) - bic.begin();
  EXPECT_EQ(best, 1) << bic[0] << " " << bic[1] << " " << bic[2] << " " << bic[3];
}

TEST(Mixture, OneComponentIsTheSampleMeanAndCovariance) {
  const MatX<double> X = sample(planted(), 500, 3);
  MixtureOptions o;
  o.reg_covar = 0.0;
  const GaussianMixture g = fit_mixture(X, o);
  const VecX<double> mu = X.colwise().mean().transpose();
  const MatX<double> c = X.rowwise() - mu.transpose();
  const MatX<double> cov = c.transpose() * c / 500.0;  // maximum likelihood: over n
  constexpr double kRounding = 1e-12;
  EXPECT_LT((g.means[0] - mu).cwiseAbs().maxCoeff(), kRounding);
  EXPECT_LT((g.covs[0] - cov).cwiseAbs().maxCoeff(), kRounding);
  EXPECT_NEAR(g.weights[0], 1.0, kRounding);
  EXPECT_NEAR(g.log_likelihood, mixture_log_density(g, X).sum(), 1e-9);
}

TEST(Mixture, ResampledNetworkHasContiguousPopulationBlocksAndKeepsOrRedrawsC) {
  const Index N = 400, R = 1;
  Network<double> net;
  net.theta = Params<double>(Dims{N, R, 4});
  net.C = MatX<double>::Identity(N, N) * 0.01;
  net.g = 0.5;
  GaussianMixture g;
  g.weights = VecX<double>(2);
  g.weights << 0.25, 0.75;
  const Index P = 2 * R + 4 + 1;
  VecX<double> m0 = VecX<double>::Constant(P, 5.0), m1 = VecX<double>::Constant(P, -5.0);
  g.means = {m0, m1};
  g.covs = {MatX<double>::Identity(P, P) * 0.01, MatX<double>::Identity(P, P) * 0.01};
  g.n = N;
  const Network<double> kept = resample_from_mixture(g, net, 1.0 / N, true, 7, 0);
  const Network<double> redrawn = resample_from_mixture(g, net, 1.0 / N, false, 7, 0);
  for (Index i = 0; i < N; ++i) {
    EXPECT_EQ(kept.theta.w()[i] > 0, i < 100) << "unit " << i;  // the first round(0.25 N) units
  }
  EXPECT_EQ(kept.C, net.C);
  EXPECT_NEAR(redrawn.C.array().square().mean(), 1.0 / N, 0.1 / N);
  EXPECT_EQ(redrawn.theta.w(), kept.theta.w());  // loadings do not depend on C's choice
}

}  // namespace
}  // namespace lrnn
