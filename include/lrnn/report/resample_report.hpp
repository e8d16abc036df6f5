// The resampling of analysis/resample.hpp as JSON and as lrnn-inspect's table.
#pragma once

#include <string>

#include "lrnn/analysis/resample.hpp"

namespace lrnn {

/// One JSON object: options, the fit (component names, mean, cov, C_variance), trained and
/// resampled figures (accuracy overall and per context, loss), and the per-network list.
std::string to_json(const ResampleReport& report);

/// A readable table of the same, ending in a newline.
std::string to_text(const ResampleReport& report);

}  // namespace lrnn
