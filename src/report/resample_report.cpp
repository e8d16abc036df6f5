#include "lrnn/report/resample_report.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "io/json.hpp"
#include "report/task_metrics_json.hpp"

namespace lrnn {
namespace {

using detail::task_metrics_json;

detail::Json spread_json(const Spread& s) {
  detail::Json j = detail::Json::object();
  j["mean"] = detail::number(s.mean);
  j["std"] = detail::number(s.std);
  j["min"] = detail::number(s.min);
  j["max"] = detail::number(s.max);
  return j;
}

}  // namespace

std::string to_json(const ResampleReport& r) {
  using detail::Json;
  Json per_network = Json::array();
  for (std::size_t k = 0; k < r.resampled.size(); ++k) {
    Json j = {{"draw", k}};
    j.update(task_metrics_json(r.resampled[k]));
    if (k < r.resampled_overlap_eigenvalues.size()) {
      j["overlap_eigenvalues"] =
          detail::list(r.resampled_overlap_eigenvalues[k], detail::complex_number);
    }
    per_network.push_back(std::move(j));
  }
  Json fit = Json::object();
  fit["components"] = loading_names(r.fit.dims);
  fit["mean"] = detail::vector(r.fit.mean);
  fit["cov"] = detail::matrix(r.fit.cov);
  fit["C_variance"] = detail::number(r.fit.C_variance);
  Json j = Json::object();
  j["networks"] = r.options.networks;
  j["trials"] = r.options.trials;
  j["split"] = "test";
  j["seed"] = r.options.seed;  // a number, as before (up to 2^64 - 1: exact in nlohmann)
  j["fit"] = std::move(fit);
  j["trained"] = task_metrics_json(r.trained);
  j["accuracy"] = spread_json(r.accuracy);
  j["accuracy_ctx1"] = spread_json(r.accuracy_ctx[0]);
  j["accuracy_ctx2"] = spread_json(r.accuracy_ctx[1]);
  j["loss"] = spread_json(r.loss);
  j["per_network"] = std::move(per_network);
  j["wall_time_s"] = detail::number(r.wall_time_s);
  return detail::dump(j);
}

std::string to_text(const ResampleReport& r) {
  const std::vector<std::string> names = loading_names(r.fit.dims);
  const auto P = static_cast<Index>(names.size());
  std::string out;
  auto line = [&out](const std::string& text) { out += text + "\n"; };
  line(
      fmt::format("resampling  (Dubreuil et al. 2022: one Gaussian fitted to the unit loadings v_i "
                  "= (m_i, n_i, "
                  "B_i, w_i);"));
  line(
      fmt::format("  {} networks of N = {} drawn from it, C redrawn with the same variance, "
                  "same g, tau, b; seed {})",
                  r.options.networks, r.fit.dims.N, r.options.seed));
  line("  fitted mean and covariance of v_i");
  std::string text = fmt::format("  {:<8}", "");
  for (const auto& name : names) text += fmt::format("{:>10}", name);
  line(text);
  text = fmt::format("  {:<8}", "mean");
  for (Index p = 0; p < P; ++p) text += fmt::format("{:>10.3g}", r.fit.mean[p]);
  line(text);
  for (Index q = 0; q < P; ++q) {
    text = fmt::format("  {:<8}", "cov " + names[static_cast<std::size_t>(q)]);
    for (Index p = 0; p < P; ++p) text += fmt::format("{:>10.3g}", r.fit.cov(q, p));
    line(text);
  }
  line(fmt::format("  C: entry variance {:.4g} (N var = {:.4g})", r.fit.C_variance,
                   r.fit.C_variance * static_cast<double>(r.fit.dims.N)));
  line("");
  line(fmt::format("  accuracy on {} test trials  {:>10}{:>11}{:>11}{:>10}", r.options.trials,
                   "overall", "context 1", "context 2", "loss"));
  auto row = [&line](const std::string& label, double a, double a1, double a2, double l) {
    line(fmt::format("  {:<26}  {:>10.3f}{:>11.3f}{:>11.3f}{:>10.4f}", label, a, a1, a2, l));
  };
  row("trained network", r.trained.accuracy, r.trained.accuracy_ctx[0], r.trained.accuracy_ctx[1],
      r.trained.loss);
  row("resampled: mean", r.accuracy.mean, r.accuracy_ctx[0].mean, r.accuracy_ctx[1].mean,
      r.loss.mean);
  row("           std", r.accuracy.std, r.accuracy_ctx[0].std, r.accuracy_ctx[1].std, r.loss.std);
  row("           min", r.accuracy.min, r.accuracy_ctx[0].min, r.accuracy_ctx[1].min, r.loss.min);
  row("           max", r.accuracy.max, r.accuracy_ctx[0].max, r.accuracy_ctx[1].max, r.loss.max);
  text = "  per network:";
  for (std::size_t k = 0; k < r.resampled.size(); ++k) {
    if (k > 0 && k % 10 == 0) {
      line(text);
      text = "              ";
    }
    text += fmt::format(" {:.3f}", r.resampled[k].accuracy);
  }
  line(text);
  line(fmt::format("  wall time {:.1f} s", r.wall_time_s));
  return out;
}

}  // namespace lrnn
