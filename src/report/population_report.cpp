#include "lrnn/report/population_report.hpp"

#include <fmt/format.h>

#include "io/json.hpp"

namespace lrnn {
namespace {

using detail::Json;

Json spread_json(const Spread& s) {
  Json j = Json::object();
  j["mean"] = detail::number(s.mean);
  j["std"] = detail::number(s.std);
  j["min"] = detail::number(s.min);
  j["max"] = detail::number(s.max);
  return j;
}

Json accuracies(const std::vector<TaskMetrics>& ms) {
  Json j = Json::array();
  for (const TaskMetrics& m : ms) j.push_back(detail::number(m.accuracy));
  return j;
}

}  // namespace

std::string to_json(const PopulationReport& r) {
  Json rows = Json::array();
  for (const PopulationRow& row : r.rows) {
    const GaussianMixture& g = row.mixture;
    Json means = Json::array(), covs = Json::array();
    for (const auto& m : g.means) means.push_back(detail::vector(m));
    for (const auto& c : g.covs) covs.push_back(detail::matrix(c));
    Json j = Json::object();
    j["populations"] = g.components();
    j["weights"] = detail::vector(g.weights);
    j["means"] = std::move(means);
    j["covs"] = std::move(covs);
    j["log_likelihood"] = detail::number(g.log_likelihood);
    j["bic"] = detail::number(g.bic());
    j["accuracy_kept_C"] = spread_json(row.accuracy_kept_C);
    j["accuracy_redrawn_C"] = spread_json(row.accuracy_redrawn_C);
    j["per_network_kept_C"] = accuracies(row.kept_C);
    j["per_network_redrawn_C"] = accuracies(row.redrawn_C);
    rows.push_back(std::move(j));
  }
  Json j = Json::object();
  j["networks"] = r.options.networks;
  j["trials"] = r.options.trials;
  j["split"] = "test";
  j["seed"] = r.options.seed;
  j["trained_accuracy"] = detail::number(r.trained.accuracy);
  j["best_bic_populations"] = r.rows[static_cast<std::size_t>(r.best_bic)].mixture.components();
  j["rows"] = std::move(rows);
  j["wall_time_s"] = detail::number(r.wall_time_s);
  return detail::dump(j);
}

std::string to_text(const PopulationReport& r) {
  std::string s = fmt::format(
      "populations  (Dubreuil et al. 2022: Gaussian mixtures fitted to the unit loadings (m_i, "
      "n_i, B_i, w_i);\n  {} networks per P drawn from each, with the trained C kept and with C "
      "redrawn; {} test trials each)\n",
      r.options.networks, r.options.trials);
  s += fmt::format("  trained network: accuracy {:.3f}\n", r.trained.accuracy);
  s += fmt::format("  {:>3}  {:>12}  {:<26}{:<26}{}\n", "P", "BIC", "accuracy, C kept",
                   "accuracy, C redrawn", "weights");
  for (std::size_t k = 0; k < r.rows.size(); ++k) {
    const PopulationRow& row = r.rows[k];
    std::string weights;
    for (Index p = 0; p < row.mixture.weights.size(); ++p) {
      weights += fmt::format("{}{:.2f}", p ? " " : "", row.mixture.weights[p]);
    }
    const auto cell = [](const Spread& a) {
      return fmt::format("{:.3f} ({:.3f}-{:.3f})", a.mean, a.min, a.max);
    };
    s += fmt::format("  {:>3}  {:>12.1f}  {:<26}{:<26}{}{}\n", row.mixture.components(),
                     row.mixture.bic(), cell(row.accuracy_kept_C), cell(row.accuracy_redrawn_C),
                     weights, static_cast<int>(k) == r.best_bic ? "   <- lowest BIC" : "");
  }
  s += fmt::format("  wall time {:.1f} s\n", r.wall_time_s);
  return s;
}

}  // namespace lrnn
