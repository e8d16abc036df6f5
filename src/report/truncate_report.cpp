#include "lrnn/report/truncate_report.hpp"

#include <fmt/format.h>

#include "io/json.hpp"
#include "report/task_metrics_json.hpp"

namespace lrnn {

std::string to_json(const TruncationReport& r) {
  detail::Json j = detail::Json::object();
  j["rank"] = r.rank;
  j["singular_values"] = detail::vector(r.singular_values);
  j["relative_error"] = detail::number(r.relative_error);
  j["trials"] = r.trials;
  j["split"] = "test";
  j["trained"] = detail::task_metrics_json(r.trained);
  j["truncated"] = detail::task_metrics_json(r.truncated);
  return detail::dump(j);
}

std::string to_text(const TruncationReport& r) {
  std::string s = fmt::format(
      "rank truncation  (M n^T/N replaced by its best rank-{} approximation; singular values",
      r.rank);
  for (Index k = 0; k < r.singular_values.size(); ++k)
    s += fmt::format(" {:.4g}", r.singular_values[k]);
  s += fmt::format("; relative Frobenius error {:.3g})\n", r.relative_error);
  s += fmt::format("  accuracy on {} test trials  {:>10}{:>11}{:>11}{:>10}\n", r.trials, "overall",
                   "context 1", "context 2", "loss");
  const auto row = [&s](const std::string& label, const TaskMetrics& m) {
    s += fmt::format("  {:<26}  {:>10.3f}{:>11.3f}{:>11.3f}{:>10.4f}\n", label, m.accuracy,
                     m.accuracy_ctx[0], m.accuracy_ctx[1], m.loss);
  };
  row("trained network", r.trained);
  row(fmt::format("truncated to rank {}", r.rank), r.truncated);
  return s;
}

}  // namespace lrnn
