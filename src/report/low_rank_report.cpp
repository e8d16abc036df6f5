#include "lrnn/report/low_rank_report.hpp"

#include <fmt/format.h>

#include <cmath>
#include <complex>
#include <string>

#include "io/json.hpp"

namespace lrnn {
namespace {

using Complex = std::complex<double>;

std::string format_complex(Complex z) {
  return fmt::format("{:.4g} {} {:.4g}i", z.real(), z.imag() < 0 ? '-' : '+', std::abs(z.imag()));
}

}  // namespace

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
