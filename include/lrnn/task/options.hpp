// The task's options (YAML section `task:`), beside the task that owns them. No YAML here:
// config/ maps the keys to these fields.
#pragma once

#include <string>
#include <vector>

#include "lrnn/core/option_error.hpp"

namespace lrnn {

enum class LabelType { kPm1, kBinary };

/// `task:` the contextual switch task (DESIGN.md section 2). Times in model time units.
struct TaskOptions {
  double T_burn = 15.0;            ///< task.T_burn: cue-only period, >= 0
  double T_stim = 85.0;            ///< task.T_stim: stimulus period, > 0
  double T_avg = 10.0;             ///< task.T_avg: loss window at the end, 0 < T_avg <= T_stim
  double stim_mean_abs = 1.2;      ///< task.stim_mean_abs: |stimulus| without coherences, > 0
  double stim_std = 0.0;           ///< task.stim_std: per-trial offset N(0, s²), >= 0
  double gamma_on = 0.08;          ///< task.gamma_on: cue of the active context
  double gamma_off = -0.14;        ///< task.gamma_off: cue of the inactive context
  std::vector<double> coherences;  ///< task.coherences: |stimulus| drawn from this list, each > 0
  double input_noise_std = 0.0;    ///< task.input_noise_std: std of ξ(t), >= 0
  double noise_dt = 1.0;           ///< task.noise_dt: ξ is held for this long, a multiple of dt
  LabelType label_type = LabelType::kPm1;  ///< task.label_type: pm1 (mse) | binary (logistic)
  /// task.trials_file: HDF5 trials (io/trials_file.hpp) instead of the generator; a relative path
  /// is relative to the working directory. The file sets rnn.d_in and T = K dt (T_burn, T_stim
  /// do not apply); empty = generate
  std::string trials_file;

  double T() const { return T_burn + T_stim; }

  /// Checks every rule of these fields (ranges, and the relations between them), Ceres-style:
  /// true when valid; else false, with the key, value and rule in *error (when not null).
  bool IsValid(OptionError* error) const;
};

}  // namespace lrnn
