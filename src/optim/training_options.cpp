#include "lrnn/optim/training_options.hpp"

#include <string>

#include "core/option_checks.hpp"

namespace lrnn {

bool TrainingOptions::IsValid(OptionError* error) const {
  detail::OptionChecks c(error);
  return c.at_least("training.batch_size", batch_size, 1) &&
         (n_train_trials >= batch_size ||
          c.fail({"training.n_train_trials", "training.batch_size"}, "training.n_train_trials",
                 std::to_string(n_train_trials),
                 "must be >= training.batch_size (" + std::to_string(batch_size) + ")")) &&
         c.at_least("training.n_val_trials", n_val_trials, 1) &&
         c.at_least("training.n_epochs", n_epochs, 1) &&
         c.positive("training.learning_rate", learning_rate) &&
         c.unit_interval("training.lr_final_fraction", lr_final_fraction, true) &&
         c.unit_interval("training.adam_beta1", adam.beta1, false) &&
         c.unit_interval("training.adam_beta2", adam.beta2, false) &&
         c.positive("training.adam_eps", adam.eps) &&
         c.non_negative("training.grad_clip", grad_clip) &&
         c.non_negative("training.weight_decay", weight_decay) &&
         (train_M || train_N || train_B || train_w || train_b ||
          c.fail({"training.train_M", "training.train_N", "training.train_B", "training.train_w",
                  "training.train_b"},
                 "training.train_{M,N,B,w,b}", "false",
                 "at least one parameter group must be trained")) &&
         c.at_least("training.eval_every", eval_every, 1) &&
         c.at_least("training.save_every", save_every, 1) &&
         c.at_least("training.threads", threads, 0) &&
         c.unit_interval("training.stop_at_val_accuracy", stop_at_val_accuracy, true) &&
         c.at_least("training.stop_patience", stop_patience, 1) &&
         (stop_patience <= 1 || stop_at_val_accuracy != 0.0 ||
          c.fail({"training.stop_patience", "training.stop_at_val_accuracy"},
                 "training.stop_patience", std::to_string(stop_patience),
                 "needs training.stop_at_val_accuracy > 0 (the stop rule is off at 0)")) &&
         c.non_negative("training.input_noise_ramp_from", input_noise_ramp_from) &&
         c.at_least("training.input_noise_ramp_begin", input_noise_ramp_begin, 0) &&
         c.at_least("training.input_noise_ramp_end", input_noise_ramp_end, 0) &&
         (input_noise_ramp() || (input_noise_ramp_begin == 0 && input_noise_ramp_from == 0.0) ||
          c.fail({"training.input_noise_ramp_end", "training.input_noise_ramp_begin",
                  "training.input_noise_ramp_from"},
                 "training.input_noise_ramp_end", "0",
                 "must be > 0 when training.input_noise_ramp_begin or _from is set (the "
                 "curriculum is off at 0)")) &&
         (!input_noise_ramp() || input_noise_ramp_end > input_noise_ramp_begin ||
          c.fail({"training.input_noise_ramp_end", "training.input_noise_ramp_begin"},
                 "training.input_noise_ramp_end", std::to_string(input_noise_ramp_end),
                 "must be > training.input_noise_ramp_begin (" +
                     std::to_string(input_noise_ramp_begin) + ")"));
}

double TrainingOptions::input_noise_std_at(std::int64_t steps_done, double target) const {
  if (!input_noise_ramp() || steps_done >= input_noise_ramp_end) return target;
  if (steps_done <= input_noise_ramp_begin) return input_noise_ramp_from;
  const double f = static_cast<double>(steps_done - input_noise_ramp_begin) /
                   static_cast<double>(input_noise_ramp_end - input_noise_ramp_begin);
  return input_noise_ramp_from + f * (target - input_noise_ramp_from);
}

GroupMask TrainingOptions::trained_groups() const {
  GroupMask m;
  m[Group::kM] = train_M;
  m[Group::kN] = train_N;
  m[Group::kB] = train_B;
  m[Group::kW] = train_w;
  m[Group::kBias] = train_b;
  return m;
}

}  // namespace lrnn
