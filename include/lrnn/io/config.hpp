// The run configuration: one struct per YAML section, every field with its default, unit, valid
// range and key. `load_config` reads and validates a file in one place; errors name the key path,
// the value, the rule, and the file and line (DESIGN.md section 5).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lrnn/core/types.hpp"

namespace lrnn {

/// `rnn:` the network tau dx/dt = -x + (g C + M nᵀ/N) tanh(x) + B u, y = wᵀ tanh(x)/N + b.
struct RnnOptions {
  int N = 500;              ///< rnn.N: number of units, >= 1
  int R = 2;                ///< rnn.R: rank of M nᵀ, 1 <= R <= N
  double g = 0.8;           ///< rnn.g: gain of the random bulk C, >= 0
  double tau = 1.0;         ///< rnn.tau: time constant (model time units), > 0
  int d_in = 4;             ///< rnn.d_in: input channels; 4 for the generated task
  double M_init_std = 1.0;  ///< rnn.M_init_std: M ~ N(0, s²/N), >= 0
  double N_init_std = 1.0;  ///< rnn.N_init_std: n ~ N(0, s²/N), >= 0
  double B_init_std = 1.0;  ///< rnn.B_init_std: B ~ N(0, s²/d_in), >= 0
  double w_init_std = 1.0;  ///< rnn.w_init_std: w ~ N(0, s²/N), >= 0
  /// rnn.noise_std: sigma of the recurrent noise, the stationary std it gives a leaky unit
  /// (Euler-Maruyama, euler only), >= 0; 0 = none
  double noise_std = 0.0;
};

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
};

enum class Method { kEuler, kRk45 };
enum class GradientKind { kBptt, kAdjoint };

/// `integrator:` how the ODE is solved and differentiated (DESIGN.md section 3).
struct IntegratorOptions {
  Method method = Method::kEuler;               ///< integrator.method: euler | rk45
  GradientKind gradient = GradientKind::kBptt;  ///< integrator.gradient: bptt | adjoint
  double dt = 0.1;         ///< integrator.dt: Euler step and output grid, > 0, divides T
  double rtol = 1e-6;      ///< integrator.rtol: rk45 relative tolerance, > 0
  double atol = 1e-8;      ///< integrator.atol: rk45 absolute tolerance, > 0
  double dt_min = 1e-8;    ///< integrator.dt_min: smallest rk45 step before failing, > 0
  int max_steps = 100000;  ///< integrator.max_steps: rk45 steps per solve before failing, >= 1
  int checkpoints = 16;    ///< integrator.checkpoints: adjoint forward checkpoints, >= 1
};

enum class LrSchedule { kConstant, kCosine };
enum class OnNan { kStop, kSkip };

/// `training:` Adam on the window loss (DESIGN.md section 4).
struct TrainingOptions {
  std::uint64_t seed = 0;  ///< training.seed: keys C, the initial parameters and data
  Precision precision = Precision::kFloat32;  ///< training.precision: float32 | float64
  int batch_size = 32;                        ///< training.batch_size: trials per step, >= 1
  int n_train_trials = 10000;                 ///< training.n_train_trials: >= batch_size
  int n_val_trials = 500;                     ///< training.n_val_trials: >= 1
  int n_epochs = 1;  ///< training.n_epochs: passes over the training trials, >= 1
  /// training.balanced_batches: order each epoch so that every batch holds the task's conditions
  /// (context x stimulus signs) in equal numbers, instead of plain random order
  bool balanced_batches = true;
  double learning_rate = 1e-2;                   ///< training.learning_rate: > 0
  LrSchedule lr_schedule = LrSchedule::kCosine;  ///< training.lr_schedule: constant | cosine
  double lr_final_fraction = 0.01;  ///< training.lr_final_fraction: cosine floor, in [0, 1]
  double adam_beta1 = 0.9;          ///< training.adam_beta1: in [0, 1)
  double adam_beta2 = 0.999;        ///< training.adam_beta2: in [0, 1)
  double adam_eps = 1e-8;           ///< training.adam_eps: > 0
  double grad_clip = 1.0;           ///< training.grad_clip: global-norm clip, 0 disables, >= 0
  double weight_decay = 0.0;        ///< training.weight_decay: λ in λ‖θ‖², >= 0
  bool train_M = true;              ///< training.train_M
  bool train_N = true;              ///< training.train_N (the n vectors)
  bool train_B = true;              ///< training.train_B
  bool train_w = true;              ///< training.train_w
  bool train_b = true;              ///< training.train_b
  int eval_every = 100;             ///< training.eval_every: validation interval in steps, >= 1
  int save_every = 100;             ///< training.save_every: checkpoint interval in steps, >= 1
  OnNan on_nan = OnNan::kStop;      ///< training.on_nan: stop | skip
  /// training.stop_at_val_accuracy: end the run once the validation accuracy of every context is
  /// at or above this for stop_patience validations in a row, in [0, 1]; 0 = off (run all steps)
  double stop_at_val_accuracy = 0.0;
  /// training.stop_patience: validations in a row the stop rule waits for, >= 1; needs
  /// stop_at_val_accuracy > 0 when above 1
  int stop_patience = 1;
  int threads = 0;  ///< training.threads: 0 = all cores; --threads overrides

  /// Optimizer steps of the whole run: n_epochs * floor(n_train_trials / batch_size).
  std::int64_t total_steps() const {
    return static_cast<std::int64_t>(n_epochs) * (n_train_trials / batch_size);
  }
};

/// `output:` where a run writes.
struct OutputOptions {
  std::string dir = "runs/default";  ///< output.dir: run directory; --out overrides
};

struct Config {
  RnnOptions rnn;
  TaskOptions task;
  IntegratorOptions integrator;
  TrainingOptions training;
  OutputOptions output;
  std::string source;  ///< where it came from (file path), for messages; not serialized
};

/// Reads a YAML file, applies `key.path=value` overrides (as from `--set`), and validates.
/// Throws ConfigError naming the key, value, rule and file:line.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

/// The same from YAML text; `source` names it in messages.
Config parse_config(const std::string& yaml_text, const std::string& source,
                    const std::vector<std::string>& overrides = {});

/// Checks every range rule and the relations between keys (R <= N, dt divides T, ...).
void validate(const Config& config);

/// The resolved config as YAML, every key written; parse_config(to_yaml(c)) == c.
std::string to_yaml(const Config& config);

/// Names used in YAML for the enums.
const char* to_string(Method m);
const char* to_string(GradientKind g);
const char* to_string(Precision p);
const char* to_string(LrSchedule s);
const char* to_string(LabelType l);
const char* to_string(OnNan o);

}  // namespace lrnn
