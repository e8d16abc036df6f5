// The low-rank structure of analysis/low_rank.hpp as JSON and as lrnn-inspect's table.
#pragma once

#include <string>

#include "lrnn/analysis/low_rank.hpp"

namespace lrnn {

/// One JSON object with the fields of LowRankSummary (matrices as arrays of rows, complex numbers
/// as {"re": .., "im": ..}; J_outliers, outlier_distance and bulk_edge are null when not
/// computed).
std::string to_json(const LowRankSummary& summary);

/// A readable aligned table, sections separated by blank lines, ending in a newline.
std::string to_text(const LowRankSummary& summary);

}  // namespace lrnn
