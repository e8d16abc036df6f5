// The population analysis of analysis/mixture.hpp as JSON and as a table.
#pragma once

#include <string>

#include "lrnn/analysis/mixture.hpp"

namespace lrnn {

/// One JSON object: networks, trials, trained figures, and per P the mixture (weights, means,
/// covariances, log-likelihood, BIC) and the accuracies with C kept and C redrawn.
std::string to_json(const PopulationReport& report);

/// One row per P: BIC, accuracy mean (min-max) with C kept and with C redrawn.
std::string to_text(const PopulationReport& report);

}  // namespace lrnn
