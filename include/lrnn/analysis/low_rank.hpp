// The low-rank structure of a network J = g C + M nᵀ / N (Mastrogiuseppe & Ostojic 2018, MO18).
//
// Mean-field result (MO18; Rivkind & Barak 2017): C has i.i.d. entries of variance 1/N, so the
// eigenvalues of g C fill the disk of radius g (the bulk). Adding the rank-R structure
// P = M nᵀ / N = Σ_r m_r n_rᵀ / N leaves the bulk in place and adds R outliers: for large N, J has
// eigenvalues at the nonzero eigenvalues of P, which are the eigenvalues of the R x R overlap
// matrix nᵀM / N (entry [r, s] = n_rᵀ m_s / N), wherever these lie outside the disk of radius g,
// up to fluctuations of order 1/√N. Inside the disk they are hidden in the bulk. The derivation
// assumes m, n independent of C; trained m, n may become correlated with C, which shifts the
// outliers. This summary reports both the overlap eigenvalues and the outliers of J computed
// directly, and their difference, rather than assuming either.
//
// Other quantities of the theory: input overlaps n_rᵀ B_k / N (how strongly input k drives the
// latent variable κ_r = n_rᵀ φ(x) / N), readout overlaps wᵀ m_r / N (how much of the readout lives
// on the dynamics' directions m_r), and the norms that give these overlaps a scale.
#pragma once

#include <complex>
#include <string>
#include <vector>

#include "lrnn/model/network.hpp"

namespace lrnn {

struct LowRankOptions {
  /// Form J (N x N) and compute all its eigenvalues (Eigen::EigenSolver, no eigenvectors):
  /// O(N²) memory and O(N³) time: 0.3 s at N = 500, about 4 s at N = 1000, minutes at N = 4000.
  bool eigen_J = true;
};

struct LowRankSummary {
  Dims dims;
  double g = 0.0;        ///< bulk gain: the theoretical bulk radius for C_ij of variance 1/N
  double tau = 0.0;      ///< time constant (model time units)
  double C_scale = 0.0;  ///< √N · std(C_ij): 1 for the C of DESIGN.md; the bulk radius is g C_scale

  Index trainable = 0;  ///< 2NR + N d_in + N + 1 (M, n, B, w, b)
  Index fixed = 0;      ///< N² (C)

  MatX<double> overlap;  ///< R x R, overlap(r, s) = n_rᵀ m_s / N
  /// Eigenvalues of nᵀM / N (= the nonzero eigenvalues of M nᵀ / N), by decreasing modulus.
  std::vector<std::complex<double>> overlap_eigenvalues;

  bool J_computed =
      false;  ///< false when LowRankOptions::eigen_J was off: the next three are empty
  /// The R eigenvalues of J of largest modulus, matched one to one with overlap_eigenvalues so that
  /// the total distance is smallest: J_outliers[k] belongs to overlap_eigenvalues[k].
  std::vector<std::complex<double>> J_outliers;
  std::vector<double> outlier_distance;  ///< |J_outliers[k] - overlap_eigenvalues[k]|
  double bulk_edge = 0.0;  ///< largest modulus among the other N - R eigenvalues of J (≈ g)

  /// R x R: n_rᵀ (g C) m_s / N, the first correction to the outliers: they solve
  /// det(λ - Σ_{j>=0} nᵀ (g C)^j M / (N λ^j)) = 0, whose j = 0 term is the overlap matrix. For m, n
  /// independent of C each entry is 0 ± bulk_overlap_std; training can correlate them with C.
  MatX<double> bulk_overlap;
  MatX<double> bulk_overlap_std;  ///< R x R: g ‖n_r‖ ‖m_s‖ √(var C_ij) / N

  MatX<double> input_overlap_n;    ///< R x d_in: n_rᵀ B_k / N
  MatX<double> input_overlap_m;    ///< R x d_in: m_rᵀ B_k / N
  VecX<double> readout_overlap_m;  ///< R: wᵀ m_r / N
  VecX<double> readout_overlap_n;  ///< R: wᵀ n_r / N

  VecX<double> norm_m;  ///< R: ‖m_r‖ / √N
  VecX<double> norm_n;  ///< R: ‖n_r‖ / √N
  VecX<double> norm_B;  ///< d_in: ‖B_k‖ / √N
  double norm_w = 0.0;  ///< ‖w‖ / √N
  double abs_b = 0.0;   ///< |b|

  /// Singular values of M nᵀ / N (its rank is at most R), decreasing; from the thin QR
  /// factorisations M = Q_m R_m, n = Q_n R_n as the singular values of R_m R_nᵀ / N.
  VecX<double> singular_values;
};

/// Computes every quantity above; O(N R²) plus O(N³) for the eigenvalues of J when asked.
LowRankSummary summarize_low_rank(const Network<double>& net, const LowRankOptions& options = {});

}  // namespace lrnn
