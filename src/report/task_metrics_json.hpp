// The figures of a TaskMetrics as a JSON object, as every report that holds them writes them.
#pragma once

#include "io/json.hpp"
#include "lrnn/train/loss.hpp"

namespace lrnn::detail {

/// {"loss", "accuracy", "accuracy_ctx1", "accuracy_ctx2"}, in this order.
inline Json task_metrics_json(const TaskMetrics& m) {
  Json j = Json::object();
  j["loss"] = number(m.loss);
  j["accuracy"] = number(m.accuracy);
  j["accuracy_ctx1"] = number(m.accuracy_ctx[0]);
  j["accuracy_ctx2"] = number(m.accuracy_ctx[1]);
  return j;
}

}  // namespace lrnn::detail
