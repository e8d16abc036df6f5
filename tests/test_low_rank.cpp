// The low-rank summary against direct formulas, the mean-field outlier result on constructed
// networks, and connectivity resampling: the fit, the statistics of the draws, reproducibility.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <numeric>
#include <ostream>
#include <vector>

#include "lrnn/analysis/low_rank.hpp"
#include "lrnn/analysis/resample.hpp"
#include "lrnn/config/config.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/core/random.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/batch_gradient.hpp"

namespace lrnn {
namespace {

using Complex = std::complex<double>;

// Sums of a few hundred products in a different order than Eigen's: rounding only.
constexpr double kDirectTol = 1e-12;

RnnOptions rnn_options(int N, int R, double g) {
  RnnOptions o;
  o.N = N;
  o.R = R;
  o.g = g;
  // Entries of order 1, so that the overlaps are of order 1 and a wrong 1/N would show.
  o.M_init_std = o.N_init_std = o.w_init_std = std::sqrt(static_cast<double>(N));
  o.B_init_std = 2.0;
  return o;
}

// A random network whose vectors are also correlated with each other and have nonzero means, so
// that no overlap is zero by symmetry.
Network<double> random_network(int N, int R, std::uint64_t seed) {
  Network<double> net = init_network<double>(rnn_options(N, R, 0.7), seed);
  auto M = net.theta.M();
  auto n = net.theta.n();
  n.col(0) += 0.8 * M.col(0) + VecX<double>::Constant(N, 0.3);
  M.col(R - 1).array() -= 0.5;
  net.theta.B().col(1) += 0.5 * n.col(0);
  net.theta.w() += 0.4 * M.col(0);
  net.theta.b() = -0.3;
  return net;
}

TEST(LowRank, OverlapsNormsAndCountsMatchDirectFormulas) {
  const int N = 50, R = 3, d_in = 4;
  const Network<double> net = random_network(N, R, 11);
  const LowRankSummary s = summarize_low_rank(net);
  const auto M = net.theta.M();
  const auto n = net.theta.n();
  const auto B = net.theta.B();
  const auto w = net.theta.w();
  const double Nd = N;

  EXPECT_EQ(s.trainable, 2 * N * R + N * d_in + N + 1);
  EXPECT_EQ(s.trainable, 551);
  EXPECT_EQ(s.fixed, N * N);
  ASSERT_EQ(s.overlap.rows(), R);
  ASSERT_EQ(s.overlap.cols(), R);
  auto dot = [N](const auto& a, const auto& b) {
    double sum = 0.0;
    for (int i = 0; i < N; ++i) sum += a(i) * b(i);
    return sum;
  };
  auto near = [](double actual, double expected) {
    EXPECT_NEAR(actual, expected, kDirectTol * std::max(1.0, std::abs(expected)));
  };
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < R; ++t) near(s.overlap(r, t), dot(n.col(r), M.col(t)) / Nd);
    for (int k = 0; k < d_in; ++k) {
      near(s.input_overlap_n(r, k), dot(n.col(r), B.col(k)) / Nd);
      near(s.input_overlap_m(r, k), dot(M.col(r), B.col(k)) / Nd);
    }
    near(s.readout_overlap_m(r), dot(w, M.col(r)) / Nd);
    near(s.readout_overlap_n(r), dot(w, n.col(r)) / Nd);
    near(s.norm_m(r), std::sqrt(dot(M.col(r), M.col(r)) / Nd));
    near(s.norm_n(r), std::sqrt(dot(n.col(r), n.col(r)) / Nd));
  }
  for (int k = 0; k < d_in; ++k) near(s.norm_B(k), std::sqrt(dot(B.col(k), B.col(k)) / Nd));
  near(s.norm_w, std::sqrt(dot(w, w) / Nd));
  near(s.abs_b, 0.3);
  // n_rᵀ (g C) m_s / N by loops.
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < R; ++t) {
      double sum = 0.0;
      for (int i = 0; i < N; ++i) {
        for (int j = 0; j < N; ++j) sum += n(i, r) * net.g * net.C(i, j) * M(j, t);
      }
      near(s.bulk_overlap(r, t), sum / Nd);
    }
  }
}

TEST(LowRank, OverlapEigenvaluesAreTheEigenvaluesOfTheOverlapMatrix) {
  const Network<double> net = random_network(50, 3, 12);
  const LowRankSummary s = summarize_low_rank(net);
  ASSERT_EQ(s.overlap_eigenvalues.size(), 3u);
  // Each is a root of det(O - λ I); together they give the trace and the determinant.
  Complex sum = 0.0, product = 1.0;
  for (const Complex& lambda : s.overlap_eigenvalues) {
    const Eigen::MatrixXcd shifted =
        s.overlap.cast<Complex>() - lambda * Eigen::MatrixXcd::Identity(3, 3);
    EXPECT_LT(std::abs(shifted.determinant()), 1e-10 * std::pow(s.overlap.norm(), 3));
    sum += lambda;
    product *= lambda;
  }
  EXPECT_NEAR(sum.real(), s.overlap.trace(), 1e-12);
  EXPECT_NEAR(sum.imag(), 0.0, 1e-12);
  EXPECT_NEAR(product.real(), s.overlap.determinant(), 1e-12 * std::abs(s.overlap.determinant()));
  for (std::size_t k = 1; k < 3; ++k) {
    EXPECT_GE(std::abs(s.overlap_eigenvalues[k - 1]), std::abs(s.overlap_eigenvalues[k]));
  }
}

TEST(LowRank, SingularValuesMatchTheFullSvd) {
  const int N = 50, R = 3;
  const Network<double> net = random_network(N, R, 13);
  const LowRankSummary s = summarize_low_rank(net);
  const MatX<double> P = net.theta.M() * net.theta.n().transpose() / double(N);
  const VecX<double> full = Eigen::JacobiSVD<MatX<double>>(P).singularValues();
  ASSERT_EQ(s.singular_values.size(), R);
  for (int k = 0; k < R; ++k) EXPECT_NEAR(s.singular_values[k], full[k], 1e-12 * full[0]) << k;
  EXPECT_LT(full[R], 1e-12 * full[0]);  // the rest of the full SVD is zero: rank R
}

TEST(LowRank, OutliersAreJsLargestEigenvaluesMatchedOneToOne) {
  const int N = 50, R = 3;
  const Network<double> net = random_network(N, R, 14);
  const LowRankSummary s = summarize_low_rank(net);
  ASSERT_TRUE(s.J_computed);
  const MatX<double> J = net.g * net.C + net.theta.M() * net.theta.n().transpose() / double(N);
  Eigen::EigenSolver<MatX<double>> solver(J, false);
  std::vector<Complex> all(solver.eigenvalues().data(), solver.eigenvalues().data() + N);
  std::sort(all.begin(), all.end(),
            [](const Complex& a, const Complex& b) { return std::abs(a) > std::abs(b); });
  // The outliers are the R largest, in some order.
  std::vector<Complex> found = s.J_outliers;
  ASSERT_EQ(found.size(), std::size_t{R});
  for (int k = 0; k < R; ++k) {
    const auto it = std::find_if(found.begin(), found.end(), [&](const Complex& z) {
      return std::abs(z - all[k]) < 1e-10 * std::abs(all[0]);
    });
    ASSERT_NE(it, found.end()) << "eigenvalue " << all[k] << " of J is not among the outliers";
    found.erase(it);
  }
  EXPECT_NEAR(s.bulk_edge, std::abs(all[R]), 1e-10);
  // The matching minimises the total distance over all R! assignments.
  double matched = 0.0;
  for (int k = 0; k < R; ++k) {
    EXPECT_NEAR(s.outlier_distance[k], std::abs(s.J_outliers[k] - s.overlap_eigenvalues[k]), 1e-15);
    matched += s.outlier_distance[k];
  }
  std::vector<int> perm(R);
  std::iota(perm.begin(), perm.end(), 0);
  do {
    double cost = 0.0;
    for (int k = 0; k < R; ++k) cost += std::abs(s.J_outliers[perm[k]] - s.overlap_eigenvalues[k]);
    EXPECT_LE(matched, cost + 1e-12);
  } while (std::next_permutation(perm.begin(), perm.end()));

  LowRankOptions skip;
  skip.eigen_J = false;
  const LowRankSummary cheap = summarize_low_rank(net, skip);
  EXPECT_FALSE(cheap.J_computed);
  EXPECT_TRUE(cheap.J_outliers.empty());
  EXPECT_EQ(cheap.overlap, s.overlap);
}

// Mean-field theory (Mastrogiuseppe & Ostojic 2018): with m, n independent of C, J's outliers sit
// at the eigenvalues of nᵀM/N, up to O(1/√N), and the bulk has radius g.
struct PlantedCase {
  const char* name;
  double omega[2][2];  // planted overlap matrix nᵀM/N
};

void PrintTo(const PlantedCase& c, std::ostream* os) { *os << c.name; }

class LowRankPlanted : public ::testing::TestWithParam<PlantedCase> {};

TEST_P(LowRankPlanted, OutliersSitAtTheOverlapEigenvalues) {
  const int N = 1000, R = 2;
  const double g = 0.5;
  const PlantedCase& c = GetParam();
  // C ~ N(0, 1/N) from init_network; m_r ~ N(0, 1); n = M Ωᵀ + Z with Z ~ N(0, 1) independent,
  // so that nᵀM/N = Ω MᵀM/N + ZᵀM/N = Ω + O(1/√N).
  RnnOptions o = rnn_options(N, R, g);
  Network<double> net = init_network<double>(o, 21);
  auto M = net.theta.M();
  auto n = net.theta.n();
  for (int r = 0; r < R; ++r) {
    Philox m_rng(99, Stream::kInitM, static_cast<std::uint64_t>(r));
    Philox z_rng(99, Stream::kInitN, static_cast<std::uint64_t>(r));
    for (int i = 0; i < N; ++i) {
      M(i, r) = m_rng.normal();
      n(i, r) = z_rng.normal();
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < R; ++t) n.col(r) += c.omega[r][t] * M.col(t);
  }
  const LowRankSummary s = summarize_low_rank(net);
  ASSERT_TRUE(s.J_computed);
  // The planted overlaps came through (MᵀM/N = I ± √(2/N), so within 0.3 of Ω).
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < R; ++t) EXPECT_NEAR(s.overlap(r, t), c.omega[r][t], 0.3);
  }
  // Fluctuations of the outliers: the first correction nᵀ(gC)M/(Nλ) has entries of standard
  // deviation g ‖n‖‖m‖/(N^{3/2} |λ|) ≈ 0.5 · 2.3 / (√N · 1.5) ≈ 0.8/√N here; 4/√N is five of them.
  const double tol = 4.0 / std::sqrt(double(N));
  for (int k = 0; k < R; ++k) {
    EXPECT_GT(std::abs(s.overlap_eigenvalues[k]), 2 * g);  // well outside the bulk
    EXPECT_LT(s.outlier_distance[k], tol)
        << "overlap eigenvalue " << s.overlap_eigenvalues[k] << ", J outlier " << s.J_outliers[k];
  }
  // The bulk edge of g C at N = 1000 is g (1 + O(N^-1/2)): within 10 %.
  EXPECT_NEAR(s.bulk_edge, g, 0.1 * g);
  // m, n independent of C: the bulk overlaps are 0 within 5 of their standard deviations.
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < R; ++t) {
      EXPECT_LT(std::abs(s.bulk_overlap(r, t)), 5 * s.bulk_overlap_std(r, t)) << r << t;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LowRank, LowRankPlanted,
                         ::testing::Values(PlantedCase{"RealPair", {{2.0, 0.0}, {0.0, -1.5}}},
                                           PlantedCase{"ComplexPair", {{1.5, -1.0}, {1.0, 1.5}}}),
                         [](const auto& p) { return std::string(p.param.name); });

// With n built from C m, the bulk overlap is large and the outlier moves away from the overlap
// eigenvalue: the summary shows the shift instead of hiding it.
TEST(LowRank, CorrelationWithCShiftsTheOutlier) {
  const int N = 1000, R = 1;
  RnnOptions o = rnn_options(N, R, 0.5);
  Network<double> net = init_network<double>(o, 22);
  auto M = net.theta.M();
  auto n = net.theta.n();
  const VecX<double> Cm = net.C * M.col(0);
  n.col(0) = 1.5 * M.col(0) + 3.0 * Cm;
  const LowRankSummary s = summarize_low_rank(net);
  EXPECT_GT(std::abs(s.bulk_overlap(0, 0)), 20 * s.bulk_overlap_std(0, 0));
  EXPECT_GT(s.outlier_distance[0], 10.0 / std::sqrt(double(N)));
}

// ---------------------------------------------------------------------------------------------
// Resampling

TEST(Resample, FitIsTheSampleMeanAndCovarianceOfTheUnitLoadings) {
  const int N = 50, R = 2, d_in = 4;
  const Network<double> net = random_network(N, R, 31);
  const LoadingFit fit = fit_loadings(net);
  const int P = 2 * R + d_in + 1;
  ASSERT_EQ(fit.size(), P);
  EXPECT_EQ(loading_names(net.dims()),
            (std::vector<std::string>{"m1", "m2", "n1", "n2", "B1", "B2", "B3", "B4", "w"}));
  auto value = [&](int i, int p) {
    if (p < R) return net.theta.M()(i, p);
    if (p < 2 * R) return net.theta.n()(i, p - R);
    if (p < 2 * R + d_in) return net.theta.B()(i, p - 2 * R);
    return net.theta.w()(i);
  };
  std::vector<double> mean(P, 0.0);
  for (int p = 0; p < P; ++p) {
    for (int i = 0; i < N; ++i) mean[p] += value(i, p) / N;
    EXPECT_NEAR(fit.mean[p], mean[p], kDirectTol * std::max(1.0, std::abs(mean[p])));
  }
  for (int p = 0; p < P; ++p) {
    for (int q = 0; q < P; ++q) {
      double c = 0.0;
      for (int i = 0; i < N; ++i) c += (value(i, p) - mean[p]) * (value(i, q) - mean[q]);
      c /= N - 1;
      EXPECT_NEAR(fit.cov(p, q), c, kDirectTol * std::max(1.0, std::abs(c))) << p << "," << q;
    }
  }
  double c_mean = 0.0, c_var = 0.0;
  for (int k = 0; k < N * N; ++k) c_mean += net.C.data()[k] / (N * N);
  for (int k = 0; k < N * N; ++k) c_var += std::pow(net.C.data()[k] - c_mean, 2) / (N * N - 1);
  EXPECT_NEAR(fit.C_variance, c_var, 1e-12 * c_var);
  EXPECT_NEAR(fit.C_variance * N, 1.0, 0.1);  // init_network's C has variance 1/N
}

// K draws of N units each give K N i.i.d. samples of N(μ, Σ). Their pooled sample mean has
// standard error √(Σ_pp / KN); their pooled sample covariance, for Gaussian data, has standard
// error √((Σ_pp Σ_qq + Σ_pq²) / KN). Every component must lie within 5 standard errors (a chance
// failure has probability about 6e-7 per check, and the draws are fixed by the seed anyway).
TEST(Resample, DrawsHaveTheFittedMeanCovarianceAndCVariance) {
  const int N = 2000, R = 2, K = 4;
  // A trained-like network: correlated loadings, nonzero means, and a zero column of B (as a
  // frozen, zero-initialised input would leave it), which makes Σ singular.
  Network<double> net = random_network(N, R, 41);
  net.theta.B().col(2).setZero();
  const LoadingFit fit = fit_loadings(net);
  const Index P = fit.size();
  const Index zero = 2 * R + 2;  // B3
  ASSERT_EQ(fit.cov(zero, zero), 0.0);

  MatX<double> pooled(K * N, P);
  for (int k = 0; k < K; ++k) {
    const Network<double> draw = resample_network(fit, net, 5, k);
    ASSERT_EQ(draw.dims(), net.dims());
    EXPECT_EQ(draw.g, net.g);
    EXPECT_EQ(draw.tau, net.tau);
    EXPECT_EQ(draw.theta.b(), net.theta.b());
    pooled.middleRows(k * N, N) = unit_loadings(draw);
    // C: mean 0 and variance s² from N² i.i.d. entries, standard errors s/N and s² √(2/N²).
    const double n_c = static_cast<double>(draw.C.size());
    const double c_mean = draw.C.mean();
    const double c_var = (draw.C.array() - c_mean).square().sum() / (n_c - 1);
    EXPECT_LT(std::abs(c_mean), 5 * std::sqrt(fit.C_variance / n_c));
    EXPECT_LT(std::abs(c_var - fit.C_variance), 5 * fit.C_variance * std::sqrt(2.0 / n_c));
  }
  // The zero-variance component stays (numerically) zero.
  EXPECT_LT(pooled.col(zero).cwiseAbs().maxCoeff(), 1e-6);

  const double n_s = static_cast<double>(K * N);
  const VecX<double> mean = pooled.colwise().mean().transpose();
  const MatX<double> centred = pooled.rowwise() - mean.transpose();
  const MatX<double> cov = centred.transpose() * centred / (n_s - 1);
  int checked = 0;
  for (Index p = 0; p < P; ++p) {
    if (p == zero) continue;
    EXPECT_LT(std::abs(mean[p] - fit.mean[p]), 5 * std::sqrt(fit.cov(p, p) / n_s))
        << loading_names(net.dims())[p];
    for (Index q = 0; q < P; ++q) {
      if (q == zero) continue;
      const double se =
          std::sqrt((fit.cov(p, p) * fit.cov(q, q) + fit.cov(p, q) * fit.cov(p, q)) / n_s);
      EXPECT_LT(std::abs(cov(p, q) - fit.cov(p, q)), 5 * se) << p << "," << q;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 64);
  // The planted correlations are strong enough that an independent draw would fail above.
  EXPECT_GT(std::abs(fit.cov(0, 2)), 20 * std::sqrt(fit.cov(0, 0) * fit.cov(2, 2) / n_s));
}

TEST(Resample, DrawsAreReproducibleAndDistinct) {
  const Network<double> net = random_network(60, 2, 51);
  const LoadingFit fit = fit_loadings(net);
  const Network<double> a = resample_network(fit, net, 7, 3);
  const Network<double> b = resample_network(fit, net, 7, 3);
  EXPECT_EQ(a.theta.flat(), b.theta.flat());  // bit for bit
  EXPECT_EQ(a.C, b.C);
  const Network<double> other_draw = resample_network(fit, net, 7, 4);
  const Network<double> other_seed = resample_network(fit, net, 8, 3);
  EXPECT_NE(a.theta.M(), other_draw.theta.M());
  EXPECT_NE(a.C, other_draw.C);
  EXPECT_NE(a.theta.M(), other_seed.theta.M());
  EXPECT_NE(a.C, other_seed.C);
  EXPECT_THROW(resample_network(fit, net, 7, -1), std::out_of_range);
  EXPECT_THROW(resample_network(fit, net, 7, std::int64_t{1} << 32), std::out_of_range);
}

Config tiny_config() {
  return parse_config(R"(rnn:
  N: 24
task:
  T_burn: 2
  T_stim: 6
  T_avg: 2
training:
  threads: 1
)",
                      "tiny");
}

// Draw k is the same network whatever K and the thread count, so its accuracy is too; the
// trained network's figures are those of a direct evaluation of the same trials.
TEST(Resample, EvaluationDoesNotDependOnCountOrThreads) {
  const Config config = tiny_config();
  const Network<double> net = init_network<double>(config.rnn, 3);
  ResampleOptions o;
  o.trials = 40;
  o.seed = 9;
  o.networks = 2;
  o.threads = 1;
  std::int64_t last_done = 0, last_total = 0;
  const ResampleReport two =
      evaluate_resampled(net, config, o, [&](std::int64_t done, std::int64_t total) {
        EXPECT_GT(done, last_done);
        last_done = done;
        last_total = total;
      });
  EXPECT_EQ(last_done, 3 * 40);
  EXPECT_EQ(last_total, 3 * 40);
  o.networks = 3;
  o.threads = 2;
  const ResampleReport three = evaluate_resampled(net, config, o);
  ASSERT_EQ(two.resampled.size(), 2u);
  ASSERT_EQ(three.resampled.size(), 3u);
  for (std::size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(two.resampled[k].accuracy, three.resampled[k].accuracy) << k;
    EXPECT_NEAR(two.resampled[k].loss, three.resampled[k].loss, 1e-12) << k;
    EXPECT_EQ(two.resampled_overlap_eigenvalues[k], three.resampled_overlap_eigenvalues[k]);
  }

  const ContextSwitchTask task(config.task, config.integrator.dt, config.training.seed, 0, 0, 40);
  BatchGradient<float> direct(config.integrator, make_time_grid(config.task, config.integrator.dt),
                              config.task.label_type, 1);
  std::vector<std::int64_t> idx(40);
  std::iota(idx.begin(), idx.end(), 0);
  const TaskMetrics m =
      direct.evaluate(net.cast<float>(), task, Split::kTest, idx.data(), 40).metrics.result();
  EXPECT_EQ(two.trained.n, 40);
  EXPECT_EQ(two.trained.accuracy, m.accuracy);
  EXPECT_EQ(two.trained.accuracy_ctx[0], m.accuracy_ctx[0]);
  EXPECT_NEAR(two.trained.loss, m.loss, 1e-9);

  double sum = 0.0;
  for (const auto& r : three.resampled) sum += r.accuracy;
  EXPECT_NEAR(three.accuracy.mean, sum / 3, 1e-15);
  EXPECT_LE(three.accuracy.min, three.accuracy.mean);
  EXPECT_GE(three.accuracy.max, three.accuracy.mean);
  for (const auto& r : three.resampled) {
    EXPECT_GE(r.accuracy, three.accuracy.min);
    EXPECT_LE(r.accuracy, three.accuracy.max);
  }
}

TEST(Resample, ConfigThatDoesNotDescribeTheNetworkIsRefused) {
  const Config config = tiny_config();
  RnnOptions other = config.rnn;
  other.N = 30;
  const Network<double> net = init_network<double>(other, 3);
  ResampleOptions o;
  o.networks = 1;
  o.trials = 8;
  EXPECT_THROW(evaluate_resampled(net, config, o), InputError);
}

}  // namespace
}  // namespace lrnn
