// Populations (Dubreuil, Valente et al. 2022): a Gaussian mixture with P components fitted to the
// per-unit loadings v_i = (m_i, n_i, B_i, w_i) of a network (analysis/resample.hpp), networks
// resampled from it, and the Bayesian information criterion that picks P.
//
// EM (Dempster, Laird & Rubin 1977) from several starts (k-means++ seeding of the means), each
// covariance regularised by reg_covar · (mean variance of the data) · I so that a component
// collapsing on a few units stays invertible; the start with the highest log-likelihood wins.
// BIC = -2 log L + k ln n with k = (P - 1) + P d + P d (d + 1) / 2 free numbers (sklearn's).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lrnn/analysis/resample.hpp"

namespace lrnn {

struct MixtureOptions {
  int components = 1;       ///< P, >= 1
  int starts = 10;          ///< EM restarts, >= 1
  int max_iters = 500;      ///< EM iterations per start, >= 1
  double tol = 1e-10;       ///< stop when the mean log-likelihood gains less than this, > 0
  double reg_covar = 1e-6;  ///< added to each covariance's diagonal, relative, >= 0
  std::uint64_t seed = 0;   ///< key of the starts
};

struct GaussianMixture {
  VecX<double> weights;             ///< P, alpha_p, summing to 1
  std::vector<VecX<double>> means;  ///< P vectors of d
  std::vector<MatX<double>> covs;   ///< P matrices d x d
  double log_likelihood = 0.0;      ///< sum over the n rows
  Index n = 0;                      ///< rows fitted
  int iterations = 0;               ///< EM iterations of the winning start

  int components() const { return static_cast<int>(means.size()); }
  Index dim() const { return means.empty() ? 0 : means.front().size(); }
  /// (P - 1) + P d + P d (d + 1) / 2
  double free_parameters() const;
  /// -2 log L + free_parameters() ln n: lower is better.
  double bic() const;
};

/// Fits a mixture to the rows of X (n x d, n >= P). Throws std::invalid_argument on bad options.
GaussianMixture fit_mixture(const MatX<double>& X, const MixtureOptions& options);

/// Log-likelihood of each row of X under the mixture.
VecX<double> mixture_log_density(const GaussianMixture& g, const MatX<double>& X);

/// Network `draw` of a resampling keyed by `seed` from the mixture fitted to `original`'s
/// loadings: units come in contiguous blocks of round(alpha_p N) units (the last block takes the
/// rounding), unit i of block p drawn from N(mu_p, Sigma_p) with its own Philox stream; C is
/// `original`'s when keep_C, else redrawn with i.i.d. N(0, C_variance) entries.
Network<double> resample_from_mixture(const GaussianMixture& g, const Network<double>& original,
                                      double C_variance, bool keep_C, std::uint64_t seed,
                                      std::int64_t draw);

struct PopulationRow {
  GaussianMixture mixture;
  std::vector<TaskMetrics> kept_C;     ///< K networks with the trained C
  std::vector<TaskMetrics> redrawn_C;  ///< K networks with C redrawn
  Spread accuracy_kept_C, accuracy_redrawn_C;
};

struct PopulationReport {
  ResampleOptions options;
  TaskMetrics trained;
  std::vector<PopulationRow> rows;  ///< one per P asked for
  int best_bic = 0;                 ///< index into rows of the lowest BIC
  double wall_time_s = 0.0;
};

/// For each P in `components`: fits the mixture to `net`'s loadings, draws options.networks
/// networks with C kept and as many with C redrawn, and evaluates them (and `net`) on the same
/// test trials as evaluate_resampled.
PopulationReport evaluate_populations(const Network<double>& net, const Config& config,
                                      const std::vector<int>& components,
                                      const ResampleOptions& options,
                                      const MixtureOptions& mixture = {},
                                      const ResampleProgress& progress = {});

}  // namespace lrnn
