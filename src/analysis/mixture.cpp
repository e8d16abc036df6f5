#include "lrnn/analysis/mixture.hpp"

#include <fmt/format.h>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

#include "lrnn/core/random.hpp"

namespace lrnn {
namespace {

// log N(x; mu, Sigma) for the rows of X, from the Cholesky factor of Sigma.
VecX<double> log_gaussian(const MatX<double>& X, const VecX<double>& mean,
                          const MatX<double>& cov) {
  const Eigen::LLT<MatX<double>> llt(cov);
  if (llt.info() != Eigen::Success) {
    return VecX<double>::Constant(X.rows(), -std::numeric_limits<double>::infinity());
  }
  const MatX<double> centred = (X.rowwise() - mean.transpose()).transpose();
  const MatX<double> z = llt.matrixL().solve(centred);
  const double log_det = 2.0 * llt.matrixL().toDenseMatrix().diagonal().array().log().sum();
  const double d = static_cast<double>(mean.size());
  return -0.5 * (z.colwise().squaredNorm().transpose().array() + log_det +
                 d * std::log(2.0 * std::numbers::pi));
}

// Row-wise log-sum-exp of L (n x P) into lse, and the responsibilities exp(L - lse) into L.
void normalise(MatX<double>& L, VecX<double>& lse) {
  lse.resize(L.rows());
  for (Index i = 0; i < L.rows(); ++i) {
    const double m = L.row(i).maxCoeff();
    lse[i] = m + std::log((L.row(i).array() - m).exp().sum());
    L.row(i) = (L.row(i).array() - lse[i]).exp();
  }
}

// k-means++ seeding: the first mean uniformly from the rows, each next one with probability
// proportional to the squared distance to the nearest chosen mean.
std::vector<VecX<double>> seed_means(const MatX<double>& X, int P, Philox& rng) {
  std::vector<VecX<double>> means;
  means.push_back(
      X.row(static_cast<Index>(rng.below(static_cast<std::uint64_t>(X.rows())))).transpose());
  VecX<double> d2(X.rows());
  while (static_cast<int>(means.size()) < P) {
    for (Index i = 0; i < X.rows(); ++i) {
      double best = std::numeric_limits<double>::infinity();
      for (const auto& m : means) best = std::min(best, (X.row(i).transpose() - m).squaredNorm());
      d2[i] = best;
    }
    const double total = d2.sum();
    double pick = rng.uniform() * total;
    Index chosen = X.rows() - 1;
    for (Index i = 0; i < X.rows(); ++i) {
      pick -= d2[i];
      if (pick <= 0.0) {
        chosen = i;
        break;
      }
    }
    means.push_back(X.row(chosen).transpose());
  }
  return means;
}

GaussianMixture em_from(const MatX<double>& X, std::vector<VecX<double>> means,
                        const MixtureOptions& o, double reg) {
  const Index n = X.rows(), d = X.cols();
  const int P = static_cast<int>(means.size());
  GaussianMixture g;
  g.n = n;
  g.weights = VecX<double>::Constant(P, 1.0 / P);
  g.means = std::move(means);
  const VecX<double> mu = X.colwise().mean().transpose();
  const MatX<double> c = X.rowwise() - mu.transpose();
  const MatX<double> global = c.transpose() * c / static_cast<double>(n);
  g.covs.assign(static_cast<std::size_t>(P), global + reg * MatX<double>::Identity(d, d));
  MatX<double> R(n, P);
  VecX<double> lse;
  double previous = -std::numeric_limits<double>::infinity();
  for (g.iterations = 1; g.iterations <= o.max_iters; ++g.iterations) {
    for (int p = 0; p < P; ++p) {
      const auto k = static_cast<std::size_t>(p);
      R.col(p) = log_gaussian(X, g.means[k], g.covs[k]).array() + std::log(g.weights[p]);
    }
    normalise(R, lse);
    g.log_likelihood = lse.sum();
    // M step.
    for (int p = 0; p < P; ++p) {
      const auto k = static_cast<std::size_t>(p);
      const double Nk = R.col(p).sum() + 10 * std::numeric_limits<double>::epsilon();
      g.weights[p] = Nk / static_cast<double>(n);
      g.means[k] = (X.transpose() * R.col(p)) / Nk;
      const MatX<double> cx = X.rowwise() - g.means[k].transpose();
      g.covs[k] =
          (cx.transpose() * R.col(p).asDiagonal() * cx) / Nk + reg * MatX<double>::Identity(d, d);
    }
    if (g.log_likelihood - previous < o.tol * static_cast<double>(n)) break;
    previous = g.log_likelihood;
  }
  // The likelihood of the final parameters.
  for (int p = 0; p < P; ++p) {
    const auto k = static_cast<std::size_t>(p);
    R.col(p) = log_gaussian(X, g.means[k], g.covs[k]).array() + std::log(g.weights[p]);
  }
  normalise(R, lse);
  g.log_likelihood = lse.sum();
  return g;
}

// Index of draw k's unit i in its own Philox stream, as in resample_network.
std::uint64_t stream_index(std::int64_t draw, Index i) {
  return (static_cast<std::uint64_t>(draw) << 32) | static_cast<std::uint64_t>(i);
}

}  // namespace

double GaussianMixture::free_parameters() const {
  const double P = components(), d = static_cast<double>(dim());
  return (P - 1) + P * d + P * d * (d + 1) / 2;
}

double GaussianMixture::bic() const {
  return -2.0 * log_likelihood + free_parameters() * std::log(static_cast<double>(n));
}

GaussianMixture fit_mixture(const MatX<double>& X, const MixtureOptions& o) {
  if (o.components < 1 || o.starts < 1 || o.max_iters < 1 || !(o.tol > 0) || !(o.reg_covar >= 0)) {
    throw std::invalid_argument(
        "fit_mixture: components, starts, max_iters >= 1, tol > 0, "
        "reg_covar >= 0");
  }
  if (X.rows() < o.components) {
    throw std::invalid_argument(
        fmt::format("fit_mixture: {} rows for {} components", X.rows(), o.components));
  }
  const VecX<double> mu = X.colwise().mean().transpose();
  const double mean_var = (X.rowwise() - mu.transpose()).array().square().mean();
  const double reg = o.reg_covar * std::max(mean_var, std::numeric_limits<double>::min());
  GaussianMixture best;
  best.log_likelihood = -std::numeric_limits<double>::infinity();
  for (int s = 0; s < o.starts; ++s) {
    Philox rng(o.seed, Stream::kMixtureStarts,
               (static_cast<std::uint64_t>(o.components) << 32) | static_cast<std::uint64_t>(s));
    GaussianMixture g = em_from(X, seed_means(X, o.components, rng), o, reg);
    if (std::isfinite(g.log_likelihood) && g.log_likelihood > best.log_likelihood) {
      best = std::move(g);
    }
  }
  if (!std::isfinite(best.log_likelihood)) {
    throw std::runtime_error("fit_mixture: no EM start reached a finite likelihood");
  }
  return best;
}

VecX<double> mixture_log_density(const GaussianMixture& g, const MatX<double>& X) {
  MatX<double> L(X.rows(), g.components());
  for (int p = 0; p < g.components(); ++p) {
    L.col(p) =
        log_gaussian(X, g.means[static_cast<std::size_t>(p)], g.covs[static_cast<std::size_t>(p)])
            .array() +
        std::log(g.weights[p]);
  }
  VecX<double> lse;
  normalise(L, lse);
  return lse;
}

Network<double> resample_from_mixture(const GaussianMixture& g, const Network<double>& original,
                                      double C_variance, bool keep_C, std::uint64_t seed,
                                      std::int64_t draw) {
  const Dims d = original.dims();
  const Index P = 2 * d.R + d.d_in + 1;
  if (g.dim() != P) {
    throw std::invalid_argument("resample_from_mixture: the mixture does not match the network");
  }
  // Factors Sigma_p = F F^T from the eigendecomposition (rounding-level negatives at 0).
  std::vector<MatX<double>> factors;
  for (const MatX<double>& cov : g.covs) {
    const Eigen::SelfAdjointEigenSolver<MatX<double>> eig(cov);
    factors.push_back(eig.eigenvectors() *
                      eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal());
  }
  // Contiguous blocks of round(alpha_p N) units; the last block takes what rounding leaves.
  std::vector<Index> block_end;
  double cumulative = 0.0;
  for (int p = 0; p < g.components(); ++p) {
    cumulative += g.weights[p];
    block_end.push_back(
        p + 1 == g.components()
            ? d.N
            : std::min<Index>(d.N, std::llround(cumulative * static_cast<double>(d.N))));
  }
  Network<double> net = network_shell(original, d);
  MatX<double> v(d.N, P);
  VecX<double> z(P);
  std::size_t p = 0;
  for (Index i = 0; i < d.N; ++i) {
    while (i >= block_end[p]) ++p;
    Philox rng(seed, Stream::kMixtureLoadings, stream_index(draw, i));
    for (Index k = 0; k < P; ++k) z[k] = rng.normal();
    v.row(i) = (g.means[p] + factors[p] * z).transpose();
  }
  net.theta.M() = v.leftCols(d.R);
  net.theta.n() = v.middleCols(d.R, d.R);
  net.theta.B() = v.middleCols(2 * d.R, d.d_in);
  net.theta.w() = v.col(P - 1);
  net.theta.b() = original.theta.b();
  if (keep_C) {
    net.C = original.C;
  } else {
    const double s = std::sqrt(C_variance);
    net.C.resize(d.N, d.N);
    for (Index j = 0; j < d.N; ++j) {
      Philox rng(seed, Stream::kResampleC, stream_index(draw, j));
      for (Index i = 0; i < d.N; ++i) net.C(i, j) = s * rng.normal();
    }
  }
  return net;
}

PopulationReport evaluate_populations(const Network<double>& net, const Config& config,
                                      const std::vector<int>& components,
                                      const ResampleOptions& options, const MixtureOptions& mixture,
                                      const ResampleProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  if (components.empty() || options.networks < 1) {
    throw std::invalid_argument("evaluate_populations: no components or no networks");
  }
  PopulationReport report;
  report.options = options;
  const MatX<double> X = unit_loadings(net);
  const double C_variance = fit_loadings(net).C_variance;
  const int K = options.networks;
  for (const int P : components) {
    PopulationRow row;
    MixtureOptions mo = mixture;
    mo.components = P;
    row.mixture = fit_mixture(X, mo);
    report.rows.push_back(std::move(row));
  }
  // One pass over all networks: the trained one, then per P K with C kept and K with C redrawn.
  const int per_row = 2 * K;
  const int count = 1 + per_row * static_cast<int>(report.rows.size());
  const auto make_net = [&](int k) {
    if (k == 0) return net;
    const int r = (k - 1) / per_row, j = (k - 1) % per_row;
    return resample_from_mixture(report.rows[static_cast<std::size_t>(r)].mixture, net, C_variance,
                                 j < K, options.seed, j % K);
  };
  const std::vector<TaskMetrics> metrics =
      evaluate_networks(make_net, count, net.dims(), config, options, progress);
  report.trained = metrics[0];
  for (std::size_t r = 0; r < report.rows.size(); ++r) {
    PopulationRow& row = report.rows[r];
    std::vector<double> kept, redrawn;
    for (int j = 0; j < per_row; ++j) {
      const TaskMetrics& m =
          metrics[1 + r * static_cast<std::size_t>(per_row) + static_cast<std::size_t>(j)];
      (j < K ? row.kept_C : row.redrawn_C).push_back(m);
      (j < K ? kept : redrawn).push_back(m.accuracy);
    }
    row.accuracy_kept_C = spread_of(kept);
    row.accuracy_redrawn_C = spread_of(redrawn);
    if (row.mixture.bic() < report.rows[static_cast<std::size_t>(report.best_bic)].mixture.bic()) {
      report.best_bic = static_cast<int>(r);
    }
  }
  report.wall_time_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace lrnn
