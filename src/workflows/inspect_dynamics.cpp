#include "lrnn/workflows/inspect_dynamics.hpp"

#include <fmt/format.h>

#include <charconv>
#include <filesystem>

#include "lrnn/core/errors.hpp"
#include "lrnn/io/text_file.hpp"
#include "lrnn/report/fixed_points_report.hpp"
#include "lrnn/report/flow_field_figure.hpp"
#include "lrnn/report/population_report.hpp"
#include "lrnn/report/truncate_report.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;

std::string output_dir(const std::string& checkpoint_path, const std::string& out_dir) {
  if (!out_dir.empty()) return out_dir;
  const fs::path p(checkpoint_path);
  return (p.parent_path() / ("inspect_" + p.stem().string())).string();
}

}  // namespace

std::vector<ConstantInput> task_conditions(const TaskOptions& task) {
  std::vector<ConstantInput> out;
  const double a = task.stim_mean_abs;
  for (int ctx = 1; ctx <= 2; ++ctx) {
    VecX<double> cue(4);
    cue << 0.0, 0.0, ctx == 1 ? task.gamma_on : task.gamma_off,
        ctx == 2 ? task.gamma_on : task.gamma_off;
    ConstantInput alone;
    alone.name = fmt::format("ctx{} cue", ctx);
    alone.u = cue;
    alone.u_before = cue;
    alone.t_before = 0.0;
    alone.t_after = task.T_burn + task.T_stim;
    out.push_back(alone);
    for (const int s1 : {1, -1}) {
      for (const int s2 : {1, -1}) {
        ConstantInput in;
        in.name = fmt::format("ctx{} s1{} s2{}", ctx, s1 > 0 ? '+' : '-', s2 > 0 ? '+' : '-');
        in.u = cue;
        in.u[0] = s1 * a;
        in.u[1] = s2 * a;
        in.u_before = cue;
        in.t_before = task.T_burn;
        in.t_after = task.T_stim;
        in.target = ctx == 1 ? s1 : s2;
        in.y_threshold = task.label_type == LabelType::kBinary ? 0.5 : 0.0;
        out.push_back(in);
      }
    }
  }
  return out;
}

namespace {

std::vector<ConstantInput> dynamics_inputs(const Network<double>& net, const Config& config,
                                           const InspectDynamicsOptions& options) {
  const Index d_in = net.dims().d_in;
  if (!options.input.empty()) {
    if (static_cast<Index>(options.input.size()) != d_in) {
      throw InputError(fmt::format("--input {}: needs {} numbers (one per input channel), got {}",
                                   fmt::join(options.input, ","), d_in, options.input.size()));
    }
    ConstantInput in;
    in.name = "input";
    in.u = Eigen::Map<const VecX<double>>(options.input.data(), d_in);
    in.t_after = config.task.T_burn + config.task.T_stim;
    return {in};
  }
  if (d_in != 4) {
    throw InputError(fmt::format(
        "--fixed-points without --input uses the task's conditions (4 input channels), but "
        "rnn.d_in = {}: give --input",
        d_in));
  }
  return task_conditions(config.task);
}

void run_fixed_points(const std::string& checkpoint_path, const Network<double>& net,
                      const Config& config, const InspectDynamicsOptions& options,
                      InspectDynamicsResult& result) {
  const std::vector<ConstantInput> inputs = dynamics_inputs(net, config, options);
  FixedPointOptions fp;
  fp.starts = options.starts;
  fp.dt = config.integrator.dt;
  fp.threads = options.threads;
  std::string error;
  if (!fp.IsValid(&error)) throw InputError("--fixed-points: " + error);
  result.fixed_points = find_fixed_points(net, inputs, fp);
  std::vector<MeanFieldCondition> mean_field;
  const std::vector<MeanFieldCondition>* mf = nullptr;
  if (net.dims().N > 2 * net.dims().R + net.dims().d_in + 1) {  // enough units for a covariance
    mean_field = compare_mean_field(net, *result.fixed_points);
    mf = &mean_field;
  }
  result.text += to_text(*result.fixed_points, mf);
  result.fixed_points_json = to_json(*result.fixed_points, checkpoint_path, mf);
  const std::string dir = output_dir(checkpoint_path, options.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw IoError(fmt::format("{}: cannot create the output directory: {}", dir, ec.message()));
  }
  const std::string json_path = (fs::path(dir) / "fixed_points.json").string();
  write_text_file(json_path, result.fixed_points_json + "\n");
  result.files.push_back(json_path);
  for (const std::string& svg : plot_flow_fields(net, *result.fixed_points, fp.dt, dir)) {
    result.files.push_back(svg);
  }
  for (const std::string& f : result.files) result.text += fmt::format("  wrote {}\n", f);
}

// The P to fit: one count, or 1..4 for "auto".
std::vector<int> population_counts(const std::string& text) {
  constexpr int kAutoMax = 4, kMax = 16;
  if (text == "auto") return {1, 2, 3, kAutoMax};
  int P = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, P);
  if (ec != std::errc() || ptr != end || P < 1 || P > kMax) {
    throw InputError(
        fmt::format("--populations {}: must be a count from 1 to {} or auto", text, kMax));
  }
  return {P};
}

}  // namespace

InspectDynamicsResult inspect_dynamics(const std::string& checkpoint_path,
                                       const Network<double>& net, const Config& config,
                                       const InspectDynamicsOptions& options) {
  InspectDynamicsResult result;
  if (options.truncate != 0 && (options.truncate < 1 || options.truncate > net.dims().R)) {
    throw InputError(fmt::format("--truncate {}: must be between 1 and the network's rank R = {}",
                                 options.truncate, net.dims().R));
  }
  std::vector<int> counts;
  if (!options.populations.empty()) counts = population_counts(options.populations);
  if (options.fixed_points) run_fixed_points(checkpoint_path, net, config, options, result);
  if (options.truncate > 0) {
    result.truncation =
        evaluate_truncated(net, config, options.truncate, options.trials, options.threads);
    if (!result.text.empty()) result.text += "\n";
    result.text += to_text(*result.truncation);
    result.truncation_json = to_json(*result.truncation);
  }
  if (!counts.empty()) {
    ResampleOptions ro;
    ro.networks = options.resample;
    ro.trials = options.trials;
    ro.seed = options.seed;
    ro.threads = options.threads;
    MixtureOptions mo;
    mo.seed = options.seed;
    result.populations = evaluate_populations(net, config, counts, ro, mo, options.progress);
    if (!result.text.empty()) result.text += "\n";
    result.text += to_text(*result.populations);
    result.populations_json = to_json(*result.populations);
  }
  return result;
}

}  // namespace lrnn
