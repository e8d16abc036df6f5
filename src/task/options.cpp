#include "lrnn/task/options.hpp"

#include <string>

#include "core/option_checks.hpp"

namespace lrnn {

bool TaskOptions::IsValid(OptionError* error) const {
  detail::OptionChecks c(error);
  // A trials file sets the trial length (K steps of dt), so T_burn and T_stim do not apply; the
  // trainer checks T_avg against the file's length.
  const bool from_file = !trials_file.empty();
  if (!(c.non_negative("task.T_burn", T_burn) && c.positive("task.T_stim", T_stim) &&
        c.positive("task.T_avg", T_avg) &&
        (from_file || T_avg <= T_stim ||
         c.fail({"task.T_avg", "task.T_stim"}, "task.T_avg", format_number(T_avg),
                "must be <= task.T_stim (" + format_number(T_stim) + ")")) &&
        c.positive("task.stim_mean_abs", stim_mean_abs) &&
        c.non_negative("task.stim_std", stim_std))) {
    return false;
  }
  for (std::size_t i = 0; i < coherences.size(); ++i) {
    if (!(coherences[i] > 0.0)) {
      const std::string element = "task.coherences[" + std::to_string(i) + "]";
      return c.fail({element, "task.coherences"}, element, format_number(coherences[i]),
                    "must be > 0");
    }
  }
  return c.non_negative("task.input_noise_std", input_noise_std) &&
         c.positive("task.noise_dt", noise_dt);
}

}  // namespace lrnn
