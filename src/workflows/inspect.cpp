#include "lrnn/workflows/inspect.hpp"

#include <string_view>

#include "lrnn/io/metrics_log.hpp"
#include "lrnn/report/low_rank_report.hpp"
#include "lrnn/report/resample_report.hpp"
#include "lrnn/train/trainer.hpp"

namespace lrnn {

bool inspect_needs_config(const InspectOptions& o) {
  return o.resample > 0 || o.dynamics.fixed_points || o.dynamics.truncate > 0;
}

Inspection inspect_checkpoint(const std::string& path, const LoadedCheckpoint<double>& ck,
                              const Config& config, const InspectOptions& options) {
  LowRankOptions low_rank_options;
  low_rank_options.eigen_J = options.eigs || ck.info.dims.N <= kMaxEigenN;
  Inspection out{summarize_low_rank(ck.net, low_rank_options), std::nullopt, std::nullopt};
  // The trainer's policy: the option, else training.threads, else the cores this process may run
  // on (its CPU affinity).
  const int threads =
      resolve_threads(options.threads > 0 ? options.threads : config.training.threads);
  const InspectDynamicsOptions& dyn = options.dynamics;
  if (options.resample > 0 && dyn.populations.empty()) {
    ResampleOptions o;
    o.networks = options.resample;
    o.trials = options.trials;
    o.seed = options.seed;
    o.threads = threads;
    out.report = evaluate_resampled(ck.net, config, o, options.progress);
  }
  if (dyn.fixed_points || dyn.truncate > 0 || !dyn.populations.empty()) {
    InspectDynamicsOptions d = dyn;
    d.threads = threads;
    d.trials = options.trials;
    d.resample = options.resample;
    d.seed = options.seed;
    d.progress = options.progress;
    out.dynamics = inspect_dynamics(path, ck.net, config, d);
  }
  return out;
}

std::string inspection_json(const std::string& path, const CheckpointInfo& info,
                            const Inspection& in) {
  JsonObject doc;
  doc.add("checkpoint", path)
      .add("step", info.meta.step)
      .add("precision", std::string_view(to_string(info.meta.precision)))
      .add_json("low_rank", to_json(in.summary));
  if (in.report) doc.add_json("resample", to_json(*in.report));
  const auto& dyn = in.dynamics;
  if (dyn && dyn->fixed_points) doc.add_json("fixed_points", dyn->fixed_points_json);
  if (dyn && dyn->truncation) doc.add_json("truncate", dyn->truncation_json);
  if (dyn && dyn->populations) doc.add_json("populations", dyn->populations_json);
  return doc.str();
}

}  // namespace lrnn
