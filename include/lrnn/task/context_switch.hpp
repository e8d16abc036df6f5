// The contextual switch task of Mastrogiuseppe & Ostojic (2018), DESIGN.md section 2.
//
// Channels: 0, 1 = stimuli s1, s2 (0 before T_burn, then σ_i a_i + offset_i + ξ_i(t));
//           2, 3 = context cues (gamma_on for the active context, gamma_off for the other).
// Target: σ_k of the stimulus named by context k, as ±1 (pm1) or {0, 1} (binary).
// Every trial is a pure function of (seed, split, index) through Philox.
#pragma once

#include <cstdint>

#include "lrnn/task/options.hpp"
#include "lrnn/task/time_grid.hpp"
#include "lrnn/task/trial_source.hpp"

namespace lrnn {

/// The draws that define one trial, before they are laid out on the grid.
struct TrialSpec {
  int context = 1;              ///< 1 or 2
  int sigma[2] = {1, 1};        ///< stimulus signs
  double strength[2] = {0, 0};  ///< a_i: stim_mean_abs or one of the coherences
  double offset[2] = {0, 0};    ///< per-trial offsets N(0, stim_std²)
  double label = 1.0;           ///< ±1 or {0, 1}
};

class ContextSwitchTask final : public TrialSourceOf<ContextSwitchTask> {
 public:
  /// Trial counts per split: n_train, n_val, n_test.
  ContextSwitchTask(const TaskOptions& task, double dt, std::uint64_t seed, std::int64_t n_train,
                    std::int64_t n_val, std::int64_t n_test);

  std::int64_t size(Split split) const override;
  Index d_in() const override { return 4; }
  Index n_steps() const override { return grid_.K; }
  const TimeGrid& grid() const { return grid_; }
  /// (context - 1) * 4 + [σ1 > 0] * 2 + [σ2 > 0]: the 8 conditions of the task.
  int condition(Split split, std::int64_t index) const override;

  /// The std of the input noise ξ in training trials, task.input_noise_std unless changed here
  /// (the trainer's curriculum, training.input_noise_ramp_*). Validation and test trials keep
  /// task.input_noise_std. The same normals are drawn whatever the std: only their scale moves.
  void set_train_input_noise_std(double std) { train_noise_std_ = std; }
  double train_input_noise_std() const { return train_noise_std_; }

  /// The draws of one trial (exposed for tests).
  TrialSpec spec(Split split, std::int64_t index) const;

 private:
  friend class TrialSourceOf<ContextSwitchTask>;
  // fill(): the trials whose indices within `split` are indices[0..count), drawn from (seed,
  // split, index) alone.
  template <typename Scalar>
  void fill_impl(Split split, const std::int64_t* indices, Index count,
                 TrialBatch<Scalar>& out) const;

  TaskOptions task_;
  TimeGrid grid_;
  std::uint64_t seed_;
  std::int64_t sizes_[3];
  Index noise_steps_ = 1;   ///< grid steps per noise interval, noise_dt / dt
  double train_noise_std_;  ///< the std of ξ in training trials
};

}  // namespace lrnn
