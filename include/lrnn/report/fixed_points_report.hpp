// The fixed points of analysis/fixed_points.hpp as fixed_points.json and as a table
// (docs/fixed_points.md documents the JSON layout).
#pragma once

#include <string>

#include "lrnn/analysis/fixed_points.hpp"

namespace lrnn {

/// The whole report as one JSON document (fixed_points.json), `checkpoint` naming the network.
std::string to_json(const FixedPointReport& report, const std::string& checkpoint);

/// One row per point and condition, then where each condition's trial ends; ends in a newline.
std::string to_text(const FixedPointReport& report);

}  // namespace lrnn
