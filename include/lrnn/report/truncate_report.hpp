// The rank truncation of analysis/truncate.hpp as JSON and as a table.
#pragma once

#include <string>

#include "lrnn/analysis/truncate.hpp"

namespace lrnn {

/// One JSON object: rank, singular_values, relative_error, trials, trained and truncated
/// (loss, accuracy, accuracy_ctx1, accuracy_ctx2).
std::string to_json(const TruncationReport& report);

/// A short table ending in a newline.
std::string to_text(const TruncationReport& report);

}  // namespace lrnn
