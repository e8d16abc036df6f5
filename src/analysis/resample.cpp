#include "lrnn/analysis/resample.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "lrnn/analysis/low_rank.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/core/random.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/batch_gradient.hpp"

namespace lrnn {
namespace {

constexpr std::int64_t kMaxDraws = std::int64_t{1} << 32;

// Philox index of unit (or column) i of draw k: the two 32-bit halves of the counter's index.
std::uint64_t stream_index(std::int64_t draw, Index i) {
  return (static_cast<std::uint64_t>(draw) << 32) | static_cast<std::uint64_t>(i);
}

}  // namespace

Spread spread_of(const std::vector<double>& x) {
  Spread s;
  if (x.empty()) return s;
  const double n = static_cast<double>(x.size());
  s.mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double ss = 0.0;
  for (const double v : x) ss += (v - s.mean) * (v - s.mean);
  s.std = x.size() > 1 ? std::sqrt(ss / (n - 1.0)) : 0.0;
  s.min = *std::min_element(x.begin(), x.end());
  s.max = *std::max_element(x.begin(), x.end());
  return s;
}

namespace {

std::vector<std::complex<double>> overlap_eigenvalues(const Network<double>& net) {
  LowRankOptions options;
  options.eigen_J = false;
  return summarize_low_rank(net, options).overlap_eigenvalues;
}

// Evaluates `nets` in order on the same trials, in chunks small enough that the per-block
// trajectories stay in memory bounds; the metrics do not depend on the chunking.
template <typename Scalar>
std::vector<TaskMetrics> evaluate_all(const std::function<Network<double>(int)>& make_net,
                                      int count, const Config& config, const TrialSource& task,
                                      const ResampleOptions& options,
                                      const ResampleProgress& progress) {
  BatchGradient<Scalar> evaluator(config.integrator,
                                  make_time_grid(config.task, config.integrator.dt),
                                  config.task.label_type, options.threads);
  const std::int64_t chunk =
      std::max<std::int64_t>(32, BatchGradient<Scalar>::kTrialsPerBlock * options.threads);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(chunk));
  const std::int64_t total = options.trials * count;
  std::vector<TaskMetrics> out;
  for (int k = 0; k < count; ++k) {
    const Network<Scalar> net = make_net(k).template cast<Scalar>();
    MetricsAccumulator acc(config.task.label_type);
    for (std::int64_t first = 0; first < options.trials; first += chunk) {
      const std::int64_t n = std::min(chunk, options.trials - first);
      std::iota(idx.begin(), idx.begin() + n, first);
      acc.merge(evaluator.evaluate(net, task, Split::kTest, idx.data(), n).metrics);
      if (progress) progress(options.trials * k + first + n, total);
    }
    out.push_back(acc.result());
  }
  return out;
}

}  // namespace

std::vector<std::string> loading_names(const Dims& d) {
  std::vector<std::string> names;
  for (Index r = 0; r < d.R; ++r) names.push_back(fmt::format("m{}", r + 1));
  for (Index r = 0; r < d.R; ++r) names.push_back(fmt::format("n{}", r + 1));
  for (Index k = 0; k < d.d_in; ++k) names.push_back(fmt::format("B{}", k + 1));
  names.emplace_back("w");
  return names;
}

MatX<double> unit_loadings(const Network<double>& net) {
  const Dims d = net.dims();
  MatX<double> v(d.N, 2 * d.R + d.d_in + 1);
  v << net.theta.M(), net.theta.n(), net.theta.B(), net.theta.w();
  return v;
}

LoadingFit fit_loadings(const Network<double>& net) {
  const Dims d = net.dims();
  if (d.N < 2) throw std::invalid_argument("fit_loadings: needs N >= 2 units");
  LoadingFit fit;
  fit.dims = d;
  const MatX<double> v = unit_loadings(net);
  fit.mean = v.colwise().mean().transpose();
  const MatX<double> centred = v.rowwise() - fit.mean.transpose();
  fit.cov = centred.transpose() * centred / static_cast<double>(d.N - 1);
  const double c_mean = net.C.mean();
  fit.C_variance = (net.C.array() - c_mean).square().sum() / static_cast<double>(net.C.size() - 1);
  return fit;
}

Network<double> network_shell(const Network<double>& original, const Dims& d) {
  Network<double> net;
  net.g = original.g;
  net.tau = original.tau;
  net.noise_std = original.noise_std;
  net.noise_seed = original.noise_seed;
  net.theta = Params<double>(d);
  return net;
}

Network<double> resample_network(const LoadingFit& fit, const Network<double>& original,
                                 std::uint64_t seed, std::int64_t draw) {
  const Dims d = original.dims();
  if (draw < 0 || draw >= kMaxDraws) {
    throw std::out_of_range(fmt::format("resample_network: draw {} is not in [0, 2^32)", draw));
  }
  const Index P = 2 * d.R + d.d_in + 1;
  if (fit.size() != P || fit.cov.rows() != P || fit.cov.cols() != P) {
    throw std::invalid_argument("resample_network: the fit does not match the network's sizes");
  }
  // Σ = V Λ Vᵀ; v = μ + V Λ₊^{1/2} z has covariance Σ with Λ's rounding-level negatives at 0,
  // where a Cholesky factor would fail on a singular Σ.
  Eigen::SelfAdjointEigenSolver<MatX<double>> eig(fit.cov);
  const VecX<double> root = eig.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  const MatX<double> factor = eig.eigenvectors() * root.asDiagonal();

  Network<double> net = network_shell(original, d);
  VecX<double> z(P);
  MatX<double> v(d.N, P);
  for (Index i = 0; i < d.N; ++i) {
    Philox rng(seed, Stream::kResampleLoadings, stream_index(draw, i));
    for (Index p = 0; p < P; ++p) z[p] = rng.normal();
    v.row(i) = (fit.mean + factor * z).transpose();
  }
  net.theta.M() = v.leftCols(d.R);
  net.theta.n() = v.middleCols(d.R, d.R);
  net.theta.B() = v.middleCols(2 * d.R, d.d_in);
  net.theta.w() = v.col(P - 1);
  net.theta.b() = original.theta.b();

  const double s = std::sqrt(fit.C_variance);
  net.C.resize(d.N, d.N);
  for (Index j = 0; j < d.N; ++j) {
    Philox rng(seed, Stream::kResampleC, stream_index(draw, j));
    for (Index i = 0; i < d.N; ++i) net.C(i, j) = s * rng.normal();
  }
  return net;
}

namespace {

// The checks evaluate_resampled and evaluate_networks share.
void check_evaluable(const Dims& d, const Config& config, const ResampleOptions& options) {
  if (d.N != config.rnn.N || d.R != config.rnn.R || d.d_in != config.rnn.d_in) {
    throw InputError(fmt::format(
        "the network (N {}, R {}, d_in {}) does not match its config (rnn.N {}, rnn.R {}, "
        "rnn.d_in {})",
        d.N, d.R, d.d_in, config.rnn.N, config.rnn.R, config.rnn.d_in));
  }
  if (!config.task.trials_file.empty()) {
    throw InputError(
        fmt::format("resampling evaluates on the generated task, but this network was trained on "
                    "task.trials_file = {}",
                    config.task.trials_file));
  }
  if (d.d_in != 4) {
    throw InputError(fmt::format(
        "resampling evaluates on the contextual switch task (4 input channels), but rnn.d_in = {}",
        d.d_in));
  }
  if (options.trials < 1 || options.threads < 1) {
    throw std::invalid_argument("evaluate_networks: trials and threads must be >= 1");
  }
}

}  // namespace

std::vector<TaskMetrics> evaluate_networks(const std::function<Network<double>(int)>& make_net,
                                           int count, const Dims& dims, const Config& config,
                                           const ResampleOptions& options,
                                           const ResampleProgress& progress) {
  check_evaluable(dims, config, options);
  const ContextSwitchTask task(config.task, config.integrator.dt, config.training.seed, 0, 0,
                               options.trials);
  return config.training.precision == Precision::kFloat64
             ? evaluate_all<double>(make_net, count, config, task, options, progress)
             : evaluate_all<float>(make_net, count, config, task, options, progress);
}

ResampleReport evaluate_resampled(const Network<double>& net, const Config& config,
                                  const ResampleOptions& options,
                                  const ResampleProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  if (options.networks < 1) {
    throw std::invalid_argument("evaluate_resampled: networks must be >= 1");
  }
  check_evaluable(net.dims(), config, options);

  ResampleReport report;
  report.options = options;
  report.fit = fit_loadings(net);
  // Network 0 is the trained one, network k >= 1 is draw k - 1.
  const auto make_net = [&](int k) {
    if (k == 0) return net;
    Network<double> draw = resample_network(report.fit, net, options.seed, k - 1);
    report.resampled_overlap_eigenvalues.push_back(overlap_eigenvalues(draw));
    return draw;
  };
  const int count = options.networks + 1;
  std::vector<TaskMetrics> metrics =
      evaluate_networks(make_net, count, net.dims(), config, options, progress);

  report.trained = metrics.front();
  report.resampled.assign(metrics.begin() + 1, metrics.end());
  std::vector<double> acc, acc1, acc2, loss;
  for (const TaskMetrics& m : report.resampled) {
    acc.push_back(m.accuracy);
    acc1.push_back(m.accuracy_ctx[0]);
    acc2.push_back(m.accuracy_ctx[1]);
    loss.push_back(m.loss);
  }
  report.accuracy = spread_of(acc);
  report.accuracy_ctx[0] = spread_of(acc1);
  report.accuracy_ctx[1] = spread_of(acc2);
  report.loss = spread_of(loss);
  report.wall_time_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace lrnn
