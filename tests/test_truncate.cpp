// Rank truncation against the dense SVD of M nᵀ / N (Eckart-Young).
#include <gtest/gtest.h>

#include <Eigen/SVD>
#include <cmath>
#include <stdexcept>

#include "lrnn/analysis/truncate.hpp"
#include "lrnn/core/random.hpp"

namespace lrnn {
namespace {

// Products of order-1 entries summed over N = 40 in other orders: rounding only.
constexpr double kRoundingTol = 1e-11;

Network<double> random_network(Index N, Index R) {
  Network<double> net;
  net.theta = Params<double>(Dims{N, R, 4});
  Philox rng(3, Stream::kFixedPointStarts, 0);
  for (Index i = 0; i < net.theta.M().size(); ++i) net.theta.M().data()[i] = rng.normal();
  for (Index i = 0; i < net.theta.n().size(); ++i) net.theta.n().data()[i] = rng.normal();
  net.theta.n().col(0) += 2.0 * net.theta.M().col(1);
  for (Index i = 0; i < net.theta.B().size(); ++i) net.theta.B().data()[i] = rng.normal();
  for (Index i = 0; i < N; ++i) net.theta.w()[i] = rng.normal();
  net.theta.b() = 0.2;
  net.C = MatX<double>::Zero(N, N);
  net.g = 0.5;
  return net;
}

TEST(Truncate, MatchesTheDenseSvdForEveryRank) {
  const Index N = 40, R = 3;
  const Network<double> net = random_network(N, R);
  const MatX<double> P = net.theta.M() * net.theta.n().transpose() / static_cast<double>(N);
  const Eigen::JacobiSVD<MatX<double>> svd(P, Eigen::ComputeThinU | Eigen::ComputeThinV);
  for (Index r = 1; r <= R; ++r) {
    const Network<double> cut = truncate_rank(net, r);
    EXPECT_EQ(cut.dims().R, r);
    const MatX<double> Pr = cut.theta.M() * cut.theta.n().transpose() / static_cast<double>(N);
    const MatX<double> best = svd.matrixU().leftCols(r) *
                              svd.singularValues().head(r).asDiagonal() *
                              svd.matrixV().leftCols(r).transpose();
    EXPECT_LT((Pr - best).cwiseAbs().maxCoeff(), kRoundingTol) << "r = " << r;
    // m'_r and n'_r have the same norm: the singular value split evenly.
    for (Index k = 0; k < r; ++k) {
      EXPECT_NEAR(cut.theta.M().col(k).norm(), cut.theta.n().col(k).norm(), kRoundingTol * N);
    }
    EXPECT_EQ(cut.theta.B(), net.theta.B());
    EXPECT_EQ(cut.theta.w(), net.theta.w());
    EXPECT_EQ(cut.C, net.C);
  }
  EXPECT_THROW(truncate_rank(net, 0), std::invalid_argument);
  EXPECT_THROW(truncate_rank(net, R + 1), std::invalid_argument);
}

}  // namespace
}  // namespace lrnn
