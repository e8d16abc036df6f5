#include "lrnn/task/context_switch.hpp"

#include "lrnn/core/errors.hpp"
#include "lrnn/core/random.hpp"

namespace lrnn {
namespace {

Stream stream_of(Split split) {
  switch (split) {
    case Split::kTrain:
      return Stream::kTrainTrials;
    case Split::kValidation:
      return Stream::kValidationTrials;
    case Split::kTest:
      return Stream::kTestTrials;
  }
  return Stream::kTrainTrials;
}

// The per-trial draws, always in the same order and number whatever the options, so that
// switching one option on does not reshuffle the others.
TrialSpec draw_spec(const TaskOptions& task, Philox& rng) {
  TrialSpec s;
  s.context = 1 + static_cast<int>(rng.below(2));
  for (int i = 0; i < 2; ++i) s.sigma[i] = rng.below(2) == 0 ? -1 : 1;
  for (int i = 0; i < 2; ++i) {
    const std::uint64_t pick = rng.below(task.coherences.empty() ? 1 : task.coherences.size());
    s.strength[i] = task.coherences.empty() ? task.stim_mean_abs : task.coherences[pick];
  }
  for (int i = 0; i < 2; ++i) s.offset[i] = task.stim_std * rng.normal();
  const int relevant = s.sigma[s.context - 1];
  s.label = task.label_type == LabelType::kPm1 ? relevant : (relevant + 1) / 2;
  return s;
}

}  // namespace

const char* to_string(Split s) {
  switch (s) {
    case Split::kTrain:
      return "train";
    case Split::kValidation:
      return "validation";
    case Split::kTest:
      return "test";
  }
  return "?";
}

ContextSwitchTask::ContextSwitchTask(const TaskOptions& task, double dt, std::uint64_t seed,
                                     std::int64_t n_train, std::int64_t n_val, std::int64_t n_test)
    : task_(task),
      grid_(make_time_grid(task, dt)),
      seed_(seed),
      sizes_{n_train, n_val, n_test},
      train_noise_std_(task.input_noise_std) {
  if (task.input_noise_std > 0.0) {
    noise_steps_ = whole_steps(task.noise_dt, dt);
    if (noise_steps_ <= 0) {
      throw ConfigError("task.noise_dt = " + std::to_string(task.noise_dt) +
                        ": must be a positive multiple of integrator.dt");
    }
  }
}

std::int64_t ContextSwitchTask::size(Split split) const { return sizes_[static_cast<int>(split)]; }

TrialSpec ContextSwitchTask::spec(Split split, std::int64_t index) const {
  Philox rng(seed_, stream_of(split), static_cast<std::uint64_t>(index));
  return draw_spec(task_, rng);
}

int ContextSwitchTask::condition(Split split, std::int64_t index) const {
  const TrialSpec s = spec(split, index);
  return (s.context - 1) * 4 + (s.sigma[0] > 0) * 2 + (s.sigma[1] > 0);
}

template <typename Scalar>
void ContextSwitchTask::fill_impl(Split split, const std::int64_t* indices, Index count,
                                  TrialBatch<Scalar>& out) const {
  const Index K = grid_.K;
  if (out.n_trials != count || out.n_steps != K || out.d_in != 4) out.resize(count, K, 4);
  for (Index j = 0; j < count; ++j) {
    const std::int64_t idx = indices[j];
    Philox rng(seed_, stream_of(split), static_cast<std::uint64_t>(idx));
    const TrialSpec s = draw_spec(task_, rng);
    out.index[j] = idx;
    out.context[j] = s.context;
    out.target[j] = static_cast<Scalar>(s.label);
    const double cue1 = s.context == 1 ? task_.gamma_on : task_.gamma_off;
    const double cue2 = s.context == 2 ? task_.gamma_on : task_.gamma_off;
    double level[2];
    for (int i = 0; i < 2; ++i) {
      out.coherence(i, j) = s.sigma[i] * s.strength[i];
      level[i] = s.sigma[i] * s.strength[i] + s.offset[i];
    }
    const double noise_std = split == Split::kTrain ? train_noise_std_ : task_.input_noise_std;
    double xi[2] = {0.0, 0.0};
    for (Index k = 0; k < K; ++k) {
      const Index col = k * count + j;
      const bool stim_on = k >= grid_.k_burn;
      // ξ is redrawn at the start of each noise interval, counted from the stimulus onset.
      if (stim_on && task_.input_noise_std > 0.0 && (k - grid_.k_burn) % noise_steps_ == 0) {
        for (double& x : xi) x = noise_std * rng.normal();
      }
      out.u(0, col) = static_cast<Scalar>(stim_on ? level[0] + xi[0] : 0.0);
      out.u(1, col) = static_cast<Scalar>(stim_on ? level[1] + xi[1] : 0.0);
      out.u(2, col) = static_cast<Scalar>(cue1);
      out.u(3, col) = static_cast<Scalar>(cue2);
    }
  }
}

template void ContextSwitchTask::fill_impl(Split, const std::int64_t*, Index,
                                           TrialBatch<float>&) const;
template void ContextSwitchTask::fill_impl(Split, const std::int64_t*, Index,
                                           TrialBatch<double>&) const;

}  // namespace lrnn
