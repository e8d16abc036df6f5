// The figures of analysis/eval_metrics.hpp as lrnn-eval's metrics.json.
#pragma once

#include <string>

#include "lrnn/analysis/eval_metrics.hpp"
#include "lrnn/io/metrics_log.hpp"

namespace lrnn {

/// metrics.json: one JSON document (indented by 2) with every figure of EvalMetrics, after the
/// fields of `header` (checkpoint, step, integrator, ...), in this order.
std::string to_json(const EvalMetrics& m, const JsonObject& header = JsonObject());

}  // namespace lrnn
