// Rank truncation (Dubreuil, Valente et al. 2022, their si_fullrank_truncate): the network with
// its low-rank part M nᵀ / N replaced by the best rank-r approximation in the Frobenius and
// spectral norms (Eckart-Young), the bulk g C, inputs and readout unchanged.
#pragma once

#include <string>

#include "lrnn/config/config.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/train/loss.hpp"

namespace lrnn {

/// With M nᵀ / N = U S Vᵀ (singular values decreasing), the network of rank r with
///   M' = U_r S_r^{1/2} √N,   n' = V_r S_r^{1/2} √N,   so that M' n'ᵀ / N = U_r S_r V_rᵀ.
/// The SVD comes from the thin QR factorisations M = Q_m R_m, n = Q_n R_n (O(N R²)): M nᵀ / N =
/// Q_m (R_m R_nᵀ / N) Q_nᵀ. r = R gives the same product M nᵀ (in new factors). Throws
/// std::invalid_argument unless 1 <= r <= R.
Network<double> truncate_rank(const Network<double>& net, Index r);

struct TruncationReport {
  Index rank = 0;                  ///< r
  VecX<double> singular_values;    ///< of M nᵀ / N, all R, decreasing
  double relative_error = 0.0;     ///< |M nᵀ - M' n'ᵀ|_F / |M nᵀ|_F
  std::int64_t trials = 0;         ///< test trials each network was evaluated on
  TaskMetrics trained, truncated;  ///< on the same trials
};

/// Truncates `net` to rank r and evaluates it and the original on the first `trials` trials of
/// the test split of the config's task, as evaluate_resampled does (analysis/resample.hpp).
TruncationReport evaluate_truncated(const Network<double>& net, const Config& config, Index r,
                                    std::int64_t trials, int threads);

}  // namespace lrnn
