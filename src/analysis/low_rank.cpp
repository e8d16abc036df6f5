#include "lrnn/analysis/low_rank.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace lrnn {
namespace {

using Complex = std::complex<double>;

// Decreasing modulus; a conjugate pair puts its positive imaginary part first, so the order does
// not depend on what the eigensolver happened to return first.
bool before(const Complex& a, const Complex& b) {
  const double ma = std::abs(a), mb = std::abs(b);
  if (ma != mb) return ma > mb;
  if (a.real() != b.real()) return a.real() > b.real();
  return a.imag() > b.imag();
}

std::vector<Complex> sorted_eigenvalues(const MatX<double>& a) {
  Eigen::EigenSolver<MatX<double>> solver(a, /*computeEigenvectors=*/false);
  if (solver.info() != Eigen::Success) return {};
  std::vector<Complex> out(solver.eigenvalues().data(),
                           solver.eigenvalues().data() + solver.eigenvalues().size());
  std::sort(out.begin(), out.end(), before);
  return out;
}

// The one-to-one assignment of `outliers` to `targets` with the smallest total distance:
// exhaustive up to R = 7 (5040 permutations), nearest pair first beyond (R is small in practice).
std::vector<Complex> match(const std::vector<Complex>& targets, std::vector<Complex> outliers) {
  const std::size_t R = targets.size();
  std::vector<std::size_t> perm(R);
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  std::vector<std::size_t> best = perm;
  if (R <= 7) {
    double best_cost = std::numeric_limits<double>::infinity();
    do {
      double cost = 0.0;
      for (std::size_t k = 0; k < R; ++k) cost += std::abs(outliers[perm[k]] - targets[k]);
      if (cost < best_cost) {
        best_cost = cost;
        best = perm;
      }
    } while (std::next_permutation(perm.begin(), perm.end()));
  } else {
    std::vector<bool> target_done(R, false), outlier_done(R, false);
    for (std::size_t step = 0; step < R; ++step) {
      double d_min = std::numeric_limits<double>::infinity();
      std::size_t t_min = 0, o_min = 0;
      for (std::size_t t = 0; t < R; ++t) {
        for (std::size_t o = 0; o < R; ++o) {
          if (target_done[t] || outlier_done[o]) continue;
          const double d = std::abs(outliers[o] - targets[t]);
          if (d < d_min) {
            d_min = d;
            t_min = t;
            o_min = o;
          }
        }
      }
      target_done[t_min] = outlier_done[o_min] = true;
      best[t_min] = o_min;
    }
  }
  std::vector<Complex> out(R);
  for (std::size_t k = 0; k < R; ++k) out[k] = outliers[best[k]];
  return out;
}

// The upper triangle R of a thin QR factorisation A = Q R (A is N x R with N >= R).
MatX<double> thin_r(const MatX<double>& a) {
  Eigen::HouseholderQR<MatX<double>> qr(a);
  return qr.matrixQR().topRows(a.cols()).triangularView<Eigen::Upper>();
}

}  // namespace

LowRankSummary summarize_low_rank(const Network<double>& net, const LowRankOptions& options) {
  LowRankSummary s;
  s.dims = net.dims();
  const Index N = s.dims.N, R = s.dims.R;
  const double n_units = static_cast<double>(N);
  const double sqrt_n = std::sqrt(n_units);
  s.g = net.g;
  s.tau = net.tau;
  s.trainable = net.theta.layout().total();
  s.fixed = N * N;
  const double c_mean = net.C.mean();
  s.C_scale =
      std::sqrt((net.C.array() - c_mean).square().sum() / static_cast<double>(N * N)) * sqrt_n;

  const MatX<double> M = net.theta.M();
  const MatX<double> n = net.theta.n();
  const MatX<double> B = net.theta.B();
  const VecX<double> w = net.theta.w();

  s.overlap = n.transpose() * M / n_units;
  s.overlap_eigenvalues = sorted_eigenvalues(s.overlap);

  if (options.eigen_J) {
    const MatX<double> J = net.g * net.C + M * n.transpose() / n_units;
    const std::vector<Complex> all = sorted_eigenvalues(J);
    if (static_cast<Index>(all.size()) == N) {
      s.J_computed = true;
      const auto top = static_cast<std::ptrdiff_t>(R);
      s.J_outliers = match(s.overlap_eigenvalues, {all.begin(), all.begin() + top});
      for (Index k = 0; k < R; ++k) {
        const auto i = static_cast<std::size_t>(k);
        s.outlier_distance.push_back(std::abs(s.J_outliers[i] - s.overlap_eigenvalues[i]));
      }
      s.bulk_edge = N > R ? std::abs(all[static_cast<std::size_t>(R)]) : 0.0;
    }
  }

  s.bulk_overlap = n.transpose() * (net.g * (net.C * M)) / n_units;
  // Var(n_rᵀ C m_s) = var(C_ij) Σ_ij n_ir² m_js² for C independent of m, n.
  const double c_std = s.C_scale / sqrt_n;
  s.bulk_overlap_std =
      net.g * c_std / n_units * (n.colwise().norm().transpose() * M.colwise().norm());
  s.input_overlap_n = n.transpose() * B / n_units;
  s.input_overlap_m = M.transpose() * B / n_units;
  s.readout_overlap_m = M.transpose() * w / n_units;
  s.readout_overlap_n = n.transpose() * w / n_units;

  s.norm_m = M.colwise().norm().transpose() / sqrt_n;
  s.norm_n = n.colwise().norm().transpose() / sqrt_n;
  s.norm_B = B.colwise().norm().transpose() / sqrt_n;
  s.norm_w = w.norm() / sqrt_n;
  s.abs_b = std::abs(net.theta.b());

  // M nᵀ / N = Q_m (R_m R_nᵀ / N) Q_nᵀ with orthonormal Q's: same singular values as the core.
  const MatX<double> core = thin_r(M) * thin_r(n).transpose() / n_units;
  s.singular_values = Eigen::JacobiSVD<MatX<double>>(core).singularValues();
  return s;
}

}  // namespace lrnn
