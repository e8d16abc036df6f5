// Learning-rate schedules (training.lr_schedule).
#pragma once

#include <cstdint>

#include "lrnn/optim/training_options.hpp"

namespace lrnn {

/// Learning rate for update number `step` (0-based) of `total` updates:
///   constant: lr0;
///   cosine:   lr0 (f + (1 - f) (1 + cos(pi step / (total - 1))) / 2), f = lr_final_fraction,
/// which starts at lr0 and reaches f lr0 after the last update.
double learning_rate_at(const TrainingOptions& options, std::int64_t step, std::int64_t total);

}  // namespace lrnn
