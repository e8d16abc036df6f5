#include "lrnn/optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace lrnn {

double learning_rate_at(const TrainingOptions& o, std::int64_t step, std::int64_t total) {
  if (o.lr_schedule == LrSchedule::kConstant || total <= 1) return o.learning_rate;
  const double progress =
      std::clamp(static_cast<double>(step) / static_cast<double>(total - 1), 0.0, 1.0);
  const double f = o.lr_final_fraction;
  return o.learning_rate * (f + (1.0 - f) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
}

}  // namespace lrnn
