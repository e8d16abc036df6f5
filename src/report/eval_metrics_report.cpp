#include "lrnn/report/eval_metrics_report.hpp"

#include <utility>

#include "io/json.hpp"
#include "lrnn/io/metrics_log.hpp"

namespace lrnn {

std::string to_json(const EvalMetrics& m, const JsonObject& header) {
  using detail::Json;
  using detail::number;
  const TaskMetrics& t = m.task;
  Json j = detail::json_of(header);
  j["label_type"] = to_string(m.label_type);
  j["n_trials"] = t.n;
  j["loss"] = number(t.loss);
  j["accuracy"] = number(t.accuracy);
  j["accuracy_ctx1"] = t.n_ctx[0] > 0 ? number(t.accuracy_ctx[0]) : Json();
  j["accuracy_ctx2"] = t.n_ctx[1] > 0 ? number(t.accuracy_ctx[1]) : Json();
  j["n_ctx1"] = t.n_ctx[0];
  j["n_ctx2"] = t.n_ctx[1];
  j["irrelevant_agreement_ctx1"] = number(m.irrelevant_agreement[0]);
  j["irrelevant_agreement_ctx2"] = number(m.irrelevant_agreement[1]);
  Json bins = Json::array();
  for (const CoherenceBin& b : m.by_coherence) {
    bins.push_back({{"stimulus", b.stimulus},
                    {"context", b.context},
                    {"coherence", number(b.coherence)},
                    {"n", b.n},
                    {"accuracy", number(b.accuracy)},
                    {"p_plus", number(b.p_plus)}});
  }
  j["by_coherence"] = std::move(bins);
  Json curves = Json::array();
  for (const PsychometricCurve& c : m.psychometric) {
    Json coherence = Json::array(), n = Json::array(), p_plus = Json::array();
    for (const auto& point : c.points) {
      coherence.push_back(number(point.coherence));
      n.push_back(point.n);
      p_plus.push_back(number(point.p_plus));
    }
    curves.push_back({{"context", c.context},
                      {"stimulus", c.stimulus},
                      {"relevant", c.relevant},
                      {"bias", number(c.bias)},
                      {"slope", number(c.slope)},
                      {"coherence", std::move(coherence)},
                      {"n", std::move(n)},
                      {"p_plus", std::move(p_plus)}});
  }
  j["psychometric"] = std::move(curves);
  return detail::dump(j, /*indent=*/2) + "\n";
}

}  // namespace lrnn
