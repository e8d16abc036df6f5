// The training run's options (YAML section `training:`): optimizer, schedule, batches, validation
// and checkpoint intervals. They sit in optim, below config, so that config can map the keys to
// them (config/ < train in the layer order); train/ reads them. No YAML here.
#pragma once

#include <cstdint>

#include "lrnn/core/option_error.hpp"
#include "lrnn/core/types.hpp"
#include "lrnn/model/params.hpp"
#include "lrnn/optim/adam.hpp"

namespace lrnn {

enum class LrSchedule { kConstant, kCosine };
enum class OnNan { kStop, kSkip };

/// `training:` Adam on the window loss (DESIGN.md section 4).
struct TrainingOptions {
  std::uint64_t seed = 0;  ///< training.seed: keys C, the initial parameters and data
  /// training.precision: float32 | float64 | bf16 (float32 with the bulk product's inputs in
  /// bfloat16; needs integrator.rtol >= 1e-3 with rk45 and tsit5)
  Precision precision = Precision::kFloat32;
  int batch_size = 32;         ///< training.batch_size: trials per step, >= 1
  int n_train_trials = 10000;  ///< training.n_train_trials: >= batch_size
  int n_val_trials = 500;      ///< training.n_val_trials: >= 1
  int n_epochs = 1;            ///< training.n_epochs: passes over the training trials, >= 1
  /// training.balanced_batches: order each epoch so that every batch holds the task's conditions
  /// (context x stimulus signs) in equal numbers, instead of plain random order
  bool balanced_batches = true;
  double learning_rate = 1e-2;                   ///< training.learning_rate: > 0
  LrSchedule lr_schedule = LrSchedule::kCosine;  ///< training.lr_schedule: constant | cosine
  double lr_final_fraction = 0.01;  ///< training.lr_final_fraction: cosine floor, in [0, 1]
  AdamOptions adam;             ///< training.adam_beta1, adam_beta2, adam_eps: Adam's own options
  double grad_clip = 1.0;       ///< training.grad_clip: global-norm clip, 0 disables, >= 0
  double weight_decay = 0.0;    ///< training.weight_decay: λ in λ‖θ‖², >= 0
  bool train_M = true;          ///< training.train_M
  bool train_N = true;          ///< training.train_N (the n vectors)
  bool train_B = true;          ///< training.train_B
  bool train_w = true;          ///< training.train_w
  bool train_b = true;          ///< training.train_b
  int eval_every = 100;         ///< training.eval_every: validation interval in steps, >= 1
  int save_every = 100;         ///< training.save_every: checkpoint interval in steps, >= 1
  OnNan on_nan = OnNan::kStop;  ///< training.on_nan: stop | skip
  /// training.stop_at_val_accuracy: end the run once the validation accuracy of every context is
  /// at or above this for stop_patience validations in a row, in [0, 1]; 0 = off (run all steps)
  double stop_at_val_accuracy = 0.0;
  /// training.stop_patience: validations in a row the stop rule waits for, >= 1; needs
  /// stop_at_val_accuracy > 0 when above 1
  int stop_patience = 1;
  /// training.val_recurrent_noise: validation runs the dynamics with rnn.noise_std, as training
  /// does (true), or without it (false), as the network is tested. Without recurrent noise the
  /// two are the same (so lrnn-eval --noise-std 0 keeps a stored config valid).
  bool val_recurrent_noise = true;
  int threads = 0;  ///< training.threads: 0 = all cores; --threads overrides
  /// A curriculum over the input noise: the training trials' input noise std is
  /// input_noise_ramp_from up to step input_noise_ramp_begin, then moves linearly to
  /// task.input_noise_std at step input_noise_ramp_end and stays there. Validation and test trials
  /// always have task.input_noise_std. Off when input_noise_ramp_end = 0 (the default).
  double input_noise_ramp_from = 0.0;  ///< training.input_noise_ramp_from: >= 0
  int input_noise_ramp_begin = 0;      ///< training.input_noise_ramp_begin: step, >= 0
  /// training.input_noise_ramp_end: step, > input_noise_ramp_begin; 0 = no curriculum
  int input_noise_ramp_end = 0;

  /// Checks every rule of these fields (ranges, and the relations between them), Ceres-style:
  /// true when valid; else false, with the key, value and rule in *error (when not null).
  bool IsValid(OptionError* error) const;

  /// The parameter groups trained (training.train_M ... train_b), for the optimizer.
  GroupMask trained_groups() const;

  /// Whether the input-noise curriculum is on (input_noise_ramp_end > 0).
  bool input_noise_ramp() const { return input_noise_ramp_end > 0; }

  /// The training trials' input noise std for the step that follows `steps_done` steps, given the
  /// task's std (the ramp's end value); `target` when the curriculum is off.
  double input_noise_std_at(std::int64_t steps_done, double target) const;

  /// Optimizer steps of the whole run: n_epochs * floor(n_train_trials / batch_size).
  std::int64_t total_steps() const {
    return static_cast<std::int64_t>(n_epochs) * (n_train_trials / batch_size);
  }
};

}  // namespace lrnn
