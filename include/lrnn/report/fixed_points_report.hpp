// The fixed points of analysis/fixed_points.hpp as fixed_points.json and as a table
// (docs/fixed_points.md documents the JSON layout).
#pragma once

#include <string>

#include "lrnn/analysis/fixed_points.hpp"
#include "lrnn/analysis/mean_field.hpp"

namespace lrnn {

/// The whole report as one JSON document (fixed_points.json), `checkpoint` naming the network.
/// `mean_field` (one per condition, or null) adds each condition's "mean_field" points.
std::string to_json(const FixedPointReport& report, const std::string& checkpoint,
                    const std::vector<MeanFieldCondition>* mean_field = nullptr);

/// One row per point and condition, then where each condition's trial ends; ends in a newline.
std::string to_text(const FixedPointReport& report,
                    const std::vector<MeanFieldCondition>* mean_field = nullptr);

}  // namespace lrnn
