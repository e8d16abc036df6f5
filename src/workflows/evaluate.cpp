#include "lrnn/workflows/evaluate.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <numeric>

#include "lrnn/analysis/traces.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/io/metrics_log.hpp"
#include "lrnn/io/text_file.hpp"
#include "lrnn/io/trials_file.hpp"
#include "lrnn/report/eval_file.hpp"
#include "lrnn/report/eval_metrics_report.hpp"
#include "lrnn/report/figures.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/trainer.hpp"

namespace lrnn {
namespace fs = std::filesystem;
namespace {

/// A checkpoint is the user's input: a file that cannot be read is exit code 2, not a failed run.
template <typename Fn>
auto as_input(Fn&& fn) {
  try {
    return fn();
  } catch (const IoError& e) {
    throw InputError(e.what());
  }
}

struct Trials {
  std::unique_ptr<TrialSource> source;
  TimeGrid grid;
  std::string description;
};

Trials make_trials(const Config& config, const EvalOptions& options, const Dims& dims) {
  Trials t;
  const std::string& file =
      !options.trials_file.empty() ? options.trials_file : config.task.trials_file;
  if (!file.empty()) {
    auto trials = std::make_unique<TrialsFile>(TrialsFile::load(file, config.task.label_type));
    if (trials->d_in() != dims.d_in) {
      throw InputError(file + ": /u has " + std::to_string(trials->d_in()) +
                       " input channels but the network has d_in = " + std::to_string(dims.d_in));
    }
    t.grid = make_time_grid(trials->n_steps(), config.integrator.dt, config.task.T_avg);
    t.description = file + " (" + std::to_string(trials->size(Split::kTest)) + " test trials)";
    t.source = std::move(trials);
  } else {
    if (options.n_trials < 1) throw InputError("--trials must be >= 1");
    t.grid = make_time_grid(config.task, config.integrator.dt);
    t.source = std::make_unique<ContextSwitchTask>(config.task, config.integrator.dt,
                                                   config.training.seed, 0, 0, options.n_trials);
    t.description = "generated: seed " + std::to_string(config.training.seed) + ", test split, " +
                    std::to_string(options.n_trials) + " trials";
  }
  return t;
}

template <typename Scalar>
EvalSummary run(const std::string& path, const EvalOptions& options, Config config) {
  auto ckpt = as_input([&] { return load_checkpoint<Scalar>(path); });
  // The dynamics' noise is the (possibly overridden) config's; test trials use its fixed stream.
  ckpt.net.noise_std = config.rnn.noise_std;
  ckpt.net.noise_seed = config.training.seed;
  EvalSummary summary;
  const Trials trials = make_trials(config, options, ckpt.net.dims());
  summary.trials = trials.description;

  const auto n = static_cast<Index>(trials.source->size(Split::kTest));
  std::vector<std::int64_t> indices(static_cast<std::size_t>(n));
  std::iota(indices.begin(), indices.end(), std::int64_t{0});
  const auto t0 = std::chrono::steady_clock::now();
  const TrialTraces traces =
      record_traces(ckpt.net, *trials.source, Split::kTest, indices.data(), n, config.integrator,
                    trials.grid, resolve_threads(options.threads), options.progress);
  summary.simulate_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary.metrics = compute_eval_metrics(config.task.label_type, traces);

  std::string out = options.out_dir;
  if (out.empty()) {
    const fs::path p(path);
    out = (p.parent_path() / ("eval_" + p.stem().string())).string();
  }
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw IoError(out + ": cannot create the output directory: " + ec.message());
  const auto file = [&](const std::string& name) {
    summary.files.push_back((fs::path(out) / name).string());
    return summary.files.back();
  };

  EvalFileMeta meta;
  meta.checkpoint = path;
  meta.step = ckpt.info.meta.step;
  meta.integrator = to_string(config.integrator.method);
  meta.precision = to_string(config.training.precision);
  meta.trials = summary.trials;
  meta.config_yaml = to_yaml(config);
  write_eval_file(file("eval.h5"), traces, summary.metrics, meta);
  summary.metrics_json =
      to_json(summary.metrics, JsonObject()
                                   .add("checkpoint", path)
                                   .add("step", meta.step)
                                   .add("integrator", meta.integrator)
                                   .add("precision", meta.precision)
                                   .add("trials", summary.trials)
                                   .add("noise_std", config.rnn.noise_std)
                                   .add("input_noise_std", config.task.input_noise_std)
                                   .add("stim_std", config.task.stim_std)
                                   .add("simulate_s", summary.simulate_s));
  write_text_file(file("metrics.json"), summary.metrics_json);
  if (options.figures) {
    plot_readout(traces, file("readout.svg"));
    plot_psychometric(summary.metrics.psychometric, file("psychometric.svg"));
    plot_latents(traces, file("latents.svg"));
    const std::string metrics =
        !options.metrics_jsonl.empty() ? options.metrics_jsonl : find_run_metrics(path);
    if (!metrics.empty()) plot_training(read_training_curves(metrics), file("training.svg"));
  }
  summary.config = std::move(config);
  return summary;
}

}  // namespace

Config checkpoint_config(const std::string& checkpoint_path) {
  const CheckpointInfo info = as_input([&] { return read_checkpoint_info(checkpoint_path); });
  return stored_config(info.meta, checkpoint_path);
}

std::string find_run_metrics(const std::string& checkpoint_path) {
  const fs::path dir = fs::path(checkpoint_path).parent_path();
  std::error_code ec;
  for (const fs::path& candidate : {dir / "metrics.jsonl", dir.parent_path() / "metrics.jsonl"}) {
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  return {};
}

EvalSummary evaluate_checkpoint(const std::string& checkpoint_path, const EvalOptions& options) {
  Config config = checkpoint_config(checkpoint_path);
  if (options.integrator) config.integrator.method = *options.integrator;
  if (!options.coherences.empty()) config.task.coherences = options.coherences;
  if (options.noise_std) config.rnn.noise_std = *options.noise_std;
  if (options.input_noise_std) config.task.input_noise_std = *options.input_noise_std;
  if (options.stim_std) config.task.stim_std = *options.stim_std;
  try {
    validate(config);
  } catch (const ConfigError& e) {
    throw InputError(std::string("the options given do not make a valid config: ") + e.what());
  }
  return config.training.precision == Precision::kFloat64
             ? run<double>(checkpoint_path, options, std::move(config))
             : run<float>(checkpoint_path, options, std::move(config));
}

}  // namespace lrnn
