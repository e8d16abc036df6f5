// Connectivity resampling (Dubreuil, Valente et al. 2022, Nature Neuroscience): does a single
// Gaussian population explain a trained low-rank network?
//
// Unit i of a network carries the loading vector
//   v_i = (m_i1 .. m_iR, n_i1 .. n_iR, B_i1 .. B_i,d_in, w_i)        (P = 2R + d_in + 1 numbers).
// fit_loadings fits one Gaussian N(μ, Σ) to v_1 .. v_N (sample mean, covariance over N - 1).
// resample_network draws a new network of the same size with every v_i i.i.d. from that Gaussian,
// a new bulk C with i.i.d. N(0, s²) entries (s² the variance of the original C's entries), and the
// same g, tau and b. The overlaps of the theory are moments of this distribution (n_rᵀ m_s / N →
// Σ[n_r, m_s] + μ[n_r] μ[m_s]), so a resampled network keeps them up to O(1/√N); if it also keeps
// the accuracy, one population explains the computation. Dubreuil et al. found that for their
// context-dependent task it does not (0.72-0.78 accuracy from one Gaussian, 0.90-0.98 from two).
#pragma once

#include <complex>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/train/loss.hpp"

namespace lrnn {

/// One Gaussian fitted to the per-unit loadings of a network.
struct LoadingFit {
  Dims dims;              ///< of the fitted network
  VecX<double> mean;      ///< μ, P = 2R + d_in + 1 components in the order of v_i
  MatX<double> cov;       ///< Σ, P x P, sample covariance (divided by N - 1)
  double C_variance = 0;  ///< sample variance of the N² entries of C (1/N for DESIGN.md's C)

  Index size() const { return mean.size(); }
};

/// Names of the loading components in the order of v_i: m1 .. mR, n1 .. nR, B1 .. Bd_in, w.
std::vector<std::string> loading_names(const Dims& dims);

/// The N x P matrix whose row i is v_i.
MatX<double> unit_loadings(const Network<double>& net);

/// A network of sizes d with `original`'s g, tau and noise, zero parameters and no C: the shell a
/// resampled network's loadings (and C) are drawn into.
Network<double> network_shell(const Network<double>& original, const Dims& d);

/// Sample mean and covariance of the rows of unit_loadings(net), and the variance of C. N >= 2.
LoadingFit fit_loadings(const Network<double>& net);

/// Network number `draw` (0 <= draw < 2^32) of a resampling keyed by `seed`: v_i ~ N(μ, Σ) i.i.d.,
/// C_ij ~ N(0, fit.C_variance) i.i.d., and g, tau, b and the size from `original`. Σ may be
/// singular (a constant component, e.g. a zero column of B): its factor comes from the eigen-
/// decomposition with negative rounding-level eigenvalues clamped to 0. Unit i of draw k and column
/// j of C come from their own Philox streams (Stream::kResampleLoadings, kResampleC, index
/// k·2^32 + i), so draw k is the same whatever the number of draws and threads.
Network<double> resample_network(const LoadingFit& fit, const Network<double>& original,
                                 std::uint64_t seed, std::int64_t draw);

struct ResampleOptions {
  int networks = 20;          ///< K: resampled networks (--resample), >= 1
  std::int64_t trials = 512;  ///< test-split trials each network is evaluated on (--trials), >= 1
  std::uint64_t seed = 0;     ///< key of the resampling draws (--seed); the task keeps its own
  int threads = 1;            ///< threads for the blocks of trials (--threads), >= 1
};

/// Mean, sample standard deviation (0 for one network), min and max of one figure over networks.
struct Spread {
  double mean = 0.0;
  double std = 0.0;
  double min = 0.0;
  double max = 0.0;
};

/// The spread of a list of figures (all zeros when it is empty).
Spread spread_of(const std::vector<double>& x);

struct ResampleReport {
  LoadingFit fit;
  ResampleOptions options;
  TaskMetrics trained;                 ///< the network itself, on the same trials
  std::vector<TaskMetrics> resampled;  ///< draw k = 0 .. K-1
  /// Eigenvalues of nᵀm/N of each resampled network, by decreasing modulus.
  std::vector<std::vector<std::complex<double>>> resampled_overlap_eigenvalues;
  Spread accuracy;         ///< over the resampled networks
  Spread accuracy_ctx[2];  ///< context 1, context 2
  Spread loss;
  double wall_time_s = 0.0;
};

/// Called after each block of trials: trials evaluated so far over all K + 1 networks, and in all.
using ResampleProgress = std::function<void(std::int64_t done, std::int64_t total)>;

/// Fits `net`, draws options.networks networks from the fit, and evaluates `net` and each of them
/// on the first options.trials trials of the test split of the config's task (ContextSwitchTask
/// with config.task, integrator.dt and training.seed), with the config's integrator and precision
/// (BatchGradient<float or double>::evaluate). Throws InputError if the config does not describe
/// the network (sizes) or the task is not the generated one (task.trials_file, rnn.d_in != 4),
/// NumericalError if a solve fails.
ResampleReport evaluate_resampled(const Network<double>& net, const Config& config,
                                  const ResampleOptions& options,
                                  const ResampleProgress& progress = {});

/// Evaluates networks make_net(0) .. make_net(count - 1) in that order on the same trials as
/// evaluate_resampled (options.networks is not used), with the same checks of the config.
std::vector<TaskMetrics> evaluate_networks(const std::function<Network<double>(int)>& make_net,
                                           int count, const Dims& dims, const Config& config,
                                           const ResampleOptions& options,
                                           const ResampleProgress& progress = {});

}  // namespace lrnn
