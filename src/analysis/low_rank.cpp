#include "lrnn/analysis/low_rank.hpp"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "io/json.hpp"

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

std::string format_complex(Complex z) {
  return fmt::format("{:.4g} {} {:.4g}i", z.real(), z.imag() < 0 ? '-' : '+', std::abs(z.imag()));
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

std::string to_json(const LowRankSummary& s) {
  using detail::Json;
  using detail::matrix;
  using detail::number;
  using detail::vector;
  Json norms = Json::object();
  norms["m"] = vector(s.norm_m);
  norms["n"] = vector(s.norm_n);
  norms["B"] = vector(s.norm_B);
  norms["w"] = number(s.norm_w);
  norms["b"] = number(s.abs_b);
  Json j = Json::object();
  j["N"] = s.dims.N;
  j["R"] = s.dims.R;
  j["d_in"] = s.dims.d_in;
  j["g"] = number(s.g);
  j["tau"] = number(s.tau);
  j["C_scale"] = number(s.C_scale);
  j["parameters"] = {{"trainable", s.trainable}, {"fixed", s.fixed}};
  j["overlap"] = matrix(s.overlap);
  j["overlap_eigenvalues"] = detail::list(s.overlap_eigenvalues, detail::complex_number);
  j["J_computed"] = s.J_computed;
  j["J_outliers"] = s.J_computed ? detail::list(s.J_outliers, detail::complex_number) : Json();
  j["outlier_distance"] = s.J_computed ? detail::list(s.outlier_distance, number) : Json();
  j["bulk_edge"] = s.J_computed ? number(s.bulk_edge) : Json();
  j["bulk_radius"] = number(s.g);
  j["bulk_overlap"] = matrix(s.bulk_overlap);
  j["bulk_overlap_std"] = matrix(s.bulk_overlap_std);
  j["input_overlap_n"] = matrix(s.input_overlap_n);
  j["input_overlap_m"] = matrix(s.input_overlap_m);
  j["readout_overlap_m"] = vector(s.readout_overlap_m);
  j["readout_overlap_n"] = vector(s.readout_overlap_n);
  j["norms"] = std::move(norms);
  j["singular_values"] = vector(s.singular_values);
  return detail::dump(j);
}

namespace {

// The lines of lrnn-inspect's table: text lines, and rows of an ASCII label padded to 12 columns
// followed by values in columns of 11.
class TextTable {
 public:
  void line(const std::string& text) { out_ += text + "\n"; }
  template <typename Values>
  void row(const std::string& label, const Values& values, Index count) {
    std::string text = fmt::format("  {:<12}", label);
    for (Index k = 0; k < count; ++k) text += fmt::format("{:>11.4g}", values(k));
    line(text);
  }
  void header(const std::string& prefix, Index count) {
    std::string text = fmt::format("  {:<12}", "");
    for (Index k = 0; k < count; ++k)
      text += fmt::format("{:>11}", fmt::format("{}{}", prefix, k + 1));
    line(text);
  }
  std::string str() && { return std::move(out_); }

 private:
  std::string out_;
};

void network_text(TextTable& t, const LowRankSummary& s) {
  const Index N = s.dims.N, R = s.dims.R, d_in = s.dims.d_in;
  t.line("network");
  t.line(fmt::format("  N {}   R {}   d_in {}   g {:.4g}   tau {:.4g}   C_scale {:.4g}", N, R, d_in,
                     s.g, s.tau, s.C_scale));
  t.line("");
  t.line("parameters");
  t.line(fmt::format("  trainable {:>10}   M, n: 2NR = {}; B: N d_in = {}; w: N = {}; b: 1",
                     s.trainable, 2 * N * R, N * d_in, N));
  t.line(fmt::format("  fixed     {:>10}   C: N² (never trained)", s.fixed));
  t.line("");
  t.line("overlap matrix nᵀm/N  (row n_r, column m_s: n_rᵀ m_s / N)");
  t.header("m", R);
  for (Index r = 0; r < R; ++r) t.row(fmt::format("n{}", r + 1), s.overlap.row(r), R);
  t.line("");
}

void outliers_text(TextTable& t, const LowRankSummary& s) {
  const Index N = s.dims.N, R = s.dims.R;
  t.line("eigenvalues of nᵀm/N vs outliers of J = g C + M nᵀ/N  (mean-field: equal for large N");
  t.line("  when outside the bulk disk |λ| < g, up to O(1/√N))");
  t.line(fmt::format("  {:<4}{:>24}{:>24}{:>12}{:>10}", "k", "overlap eigenvalue", "J outlier",
                     "|diff|", "|λ| > g"));
  for (Index k = 0; k < R; ++k) {
    const auto i = static_cast<std::size_t>(k);
    const auto& lambda = s.overlap_eigenvalues[i];
    t.line(fmt::format("  {:<4}{:>24}{:>24}{:>12}{:>10}", k + 1, format_complex(lambda),
                       s.J_computed ? format_complex(s.J_outliers[i]) : "-",
                       s.J_computed ? fmt::format("{:.3g}", s.outlier_distance[i]) : "-",
                       std::abs(lambda) > s.g ? "yes" : "no"));
  }
  const bool any_inside = std::any_of(s.overlap_eigenvalues.begin(), s.overlap_eigenvalues.end(),
                                      [&s](const Complex& z) { return std::abs(z) <= s.g; });
  if (any_inside && s.J_computed) {
    t.line("  (theory predicts no outlier for |λ| <= g: there the J column is a bulk eigenvalue)");
  }
  t.line(
      fmt::format("  bulk radius: g = {:.4g} (theory; g C_scale = {:.4g})", s.g, s.g * s.C_scale));
  t.line(s.J_computed ? fmt::format("  largest |λ| among the other N - R eigenvalues of J: {:.4g}",
                                    s.bulk_edge)
                      : "  eigenvalues of J not computed (N x N eigenproblem skipped)");
  t.line(fmt::format("  1/√N = {:.3g}: the scale of finite-size fluctuations",
                     1.0 / std::sqrt(static_cast<double>(N))));
  t.line("");
}

void overlaps_text(TextTable& t, const LowRankSummary& s) {
  const Index R = s.dims.R, d_in = s.dims.d_in;
  t.line("bulk overlap nᵀ(gC)m/N: the first correction to the outliers; for m, n independent of C");
  t.line(
      "  each entry is 0 ± the second block. Large entries mean training correlated m, n with C,");
  t.line("  which moves J's outliers away from the overlap eigenvalues.");
  t.header("m", R);
  for (Index r = 0; r < R; ++r) t.row(fmt::format("n{}", r + 1), s.bulk_overlap.row(r), R);
  for (Index r = 0; r < R; ++r) {
    t.row(fmt::format("± n{}", r + 1), s.bulk_overlap_std.row(r), R);
  }
  t.line("");

  t.line(d_in == 4 ? "input overlaps  (B1, B2: stimuli; B3, B4: context cues)" : "input overlaps");
  t.header("B", d_in);
  for (Index r = 0; r < R; ++r) {
    t.row(fmt::format("n{}ᵀB/N", r + 1), s.input_overlap_n.row(r), d_in);
  }
  for (Index r = 0; r < R; ++r) {
    t.row(fmt::format("m{}ᵀB/N", r + 1), s.input_overlap_m.row(r), d_in);
  }
  t.line("");

  t.line("readout overlaps");
  t.header("r=", R);
  t.row("wᵀm_r/N", s.readout_overlap_m, R);
  t.row("wᵀn_r/N", s.readout_overlap_n, R);
  t.line("");

  t.line("norms  (‖v‖/√N)");
  t.header("", std::max(R, d_in));
  t.row("m_r", s.norm_m, R);
  t.row("n_r", s.norm_n, R);
  t.row("B_k", s.norm_B, d_in);
  t.line(fmt::format("  {:<12}{:>11.4g}", "w", s.norm_w));
  t.line(fmt::format("  {:<12}{:>11.4g}   (|b|, the readout bias)", "b", s.abs_b));
  t.line("");
}

}  // namespace

std::string to_text(const LowRankSummary& s) {
  TextTable t;
  network_text(t, s);
  outliers_text(t, s);
  overlaps_text(t, s);
  t.line("singular values of M nᵀ/N");
  std::string sv = " ";
  for (Index k = 0; k < s.singular_values.size(); ++k) {
    sv += fmt::format(" {:.4g}", s.singular_values[k]);
  }
  t.line(sv);
  return std::move(t).str();
}

}  // namespace lrnn
