#include "lrnn/train/trainer.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <span>
#include <sstream>
#include <thread>
#include <vector>

#include "lrnn/core/comm.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/core/random.hpp"
#include "lrnn/core/text_diff.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/io/metrics_log.hpp"
#include "lrnn/io/text_file.hpp"
#include "lrnn/io/trials_file.hpp"
#include "lrnn/optim/adam.hpp"
#include "lrnn/optim/optimizer_step.hpp"
#include "lrnn/optim/schedule.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/batch_gradient.hpp"

namespace lrnn {

namespace fs = std::filesystem;

std::string RunDir::step_checkpoint(std::int64_t step) const {
  return fmt::format("{}/step_{:06d}.h5", checkpoints(), step);
}

namespace {

// The files of an earlier run in `run`, for the message that refuses to overwrite them.
std::vector<fs::path> run_files(const RunDir& run) {
  std::vector<fs::path> files;
  for (const std::string& f : {run.config(), run.metrics(), run.log(), run.best(), run.final()}) {
    if (fs::exists(f)) files.emplace_back(f);
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run.checkpoints(), ec)) {
    if (e.path().extension() == ".h5") files.push_back(e.path());
  }
  return files;
}

}  // namespace

RunDir prepare_run_dir(const std::string& dir, RunDirMode mode) {
  RunDir run{dir};
  std::error_code ec;
  fs::create_directories(run.checkpoints(), ec);
  if (ec) throw IoError(dir + ": cannot create the run directory: " + ec.message());
  // Creating a directory can succeed where writing into it fails (read-only mounts, quotas).
  const std::string probe = run.checkpoints() + "/.write_test";
  {
    std::ofstream out(probe);
    out << "ok\n";
    out.flush();
    if (!out) throw IoError(dir + ": the run directory is not writable");
  }
  fs::remove(probe, ec);
  if (mode == RunDirMode::kResume) return run;
  const std::vector<fs::path> earlier = run_files(run);
  const bool holds_run = std::any_of(earlier.begin(), earlier.end(), [&](const fs::path& p) {
    return p != fs::path(run.log());  // a log alone is left by a run that never started
  });
  if (holds_run && mode == RunDirMode::kNew) {
    throw InputError(dir + " already holds a run (" + earlier.front().filename().string() +
                     ", ...): continue it with --resume " + dir +
                     "/checkpoints/step_NNNNNN.h5, write elsewhere with --out, or replace it "
                     "with --overwrite");
  }
  for (const fs::path& p : earlier) {
    fs::remove(p, ec);
    if (ec) throw IoError(p.string() + ": cannot remove: " + ec.message());
  }
  return run;
}

std::vector<std::int64_t> training_order(const TrialSource& source, std::uint64_t seed,
                                         std::int64_t epoch, std::int64_t n_trials, bool balanced) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n_trials));
  std::iota(order.begin(), order.end(), 0);
  Philox rng(seed, Stream::kShuffle, static_cast<std::uint64_t>(epoch));
  for (std::size_t i = order.size() - 1; i > 0; --i) {
    std::swap(order[i], order[rng.below(i + 1)]);
  }
  if (!balanced) return order;
  // Deal the shuffled trials round-robin from one queue per condition.
  std::map<int, std::vector<std::int64_t>> queues;
  for (const std::int64_t i : order) queues[source.condition(Split::kTrain, i)].push_back(i);
  std::vector<std::size_t> next(queues.size(), 0);
  std::size_t taken = 0;
  while (taken < order.size()) {
    std::size_t q = 0;
    for (const auto& [condition, trials] : queues) {
      if (next[q] < trials.size()) order[taken++] = trials[next[q]++];
      ++q;
    }
  }
  return order;
}

int resolve_threads(int requested, const Comm& comm) {
  if (requested > 0) return requested;
  const unsigned hw_count = std::thread::hardware_concurrency();
  const int hw = hw_count > 0 ? static_cast<int>(hw_count) : 1;
  cpu_set_t set;
  CPU_ZERO(&set);
  const int allowed = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : hw;
  // The cores this process may run on (a launcher may have bound it: mpirun to a core or a
  // socket, srun --cpus-per-task), and no more than its share of the node: ranks bound to the
  // same socket, or not bound at all, would otherwise each take all of it.
  const int share = std::max(1, hw / std::max(1, comm.local_size()));
  return std::max(1, std::min(allowed > 0 ? allowed : hw, share));
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The config's YAML with output.dir set to a common value: a resumed run may write elsewhere.
std::string comparable_yaml(Config c) {
  c.output.dir = "-";
  return to_yaml(c);
}

// to_yaml's text as one "section.key: value" line per key, so that a message about a differing
// line names the key path.
std::string key_path_lines(const std::string& yaml) {
  std::istringstream in(yaml);
  std::string out, section;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] != ' ' && line.back() == ':') {
      section = line.substr(0, line.size() - 1);
      continue;
    }
    const auto first = line.find_first_not_of(' ');
    out += (first > 0 && !section.empty() ? section + "." : "") + line.substr(first) + "\n";
  }
  return out;
}

// FNV-1a over the bytes of a vector: a checksum of the parameters, equal on two ranks exactly
// when their bits are (up to a 2^-64 chance).
template <typename Scalar>
std::uint64_t fnv1a(const VecX<Scalar>& v, std::uint64_t h) {
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  for (std::size_t i = 0; i < static_cast<std::size_t>(v.size()) * sizeof(Scalar); ++i) {
    h = (h ^ p[i]) * 1099511628211ULL;
  }
  return h;
}

// The first line at which two YAML texts differ, for a message a user can act on.
std::string first_difference(const std::string& a, const std::string& b) {
  const auto d = first_different_lines(a, b);
  if (!d) return "";
  return "'" + d->first + "' in the checkpoint vs '" + d->second + "' now";
}

template <typename Scalar>
bool all_finite(const Params<Scalar>& p) {
  return p.flat().allFinite();
}

// The first group of p that holds NaN or Inf.
template <typename Scalar>
std::string_view bad_group(const Params<Scalar>& p) {
  for (Group g : kAllGroups) {
    if (!p.segment(g).allFinite()) return group_name(g);
  }
  return "";
}

// With training.on_nan = skip, this many bad batches in a row end the run: the parameters
// themselves have gone bad, and skipping more batches cannot help.
constexpr std::int64_t kMaxConsecutiveSkips = 10;

// Told about each step once it is done (and validated), as Ceres's IterationCallback: the metrics
// log, the checkpoint schedule and the caller's progress callback are each one.
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  virtual void on_step(StepReport& report) = 0;
};

// One line of metrics.jsonl per step.
class MetricsObserver : public StepObserver {
 public:
  MetricsObserver(const std::string& path, std::int64_t keep_through_step,
                  const CheckpointMeta& meta, const TrainingOptions& training)
      : log_(path, keep_through_step), meta_(meta), training_(training) {}

  void on_step(StepReport& r) override {
    JsonObject j;
    j.add("step", r.step)
        .add("loss", r.loss)
        .add("accuracy", r.accuracy)
        .add("grad_norm", r.grad_norm)
        .add("lr", r.learning_rate)
        .add("step_time_s", r.step_time_s)
        .add("steps_accepted", r.stats.steps_accepted)
        .add("steps_rejected", r.stats.steps_rejected)
        .add("rhs_forward", r.stats.rhs_forward)
        .add("rhs_backward", r.stats.rhs_backward);
    if (r.skipped || meta_.nan_skips > 0)
      j.add("skipped", r.skipped).add("nan_skips", meta_.nan_skips);
    if (r.has_validation && training_.stop_at_val_accuracy > 0.0) {
      j.add("stop_streak", meta_.stop_streak);
    }
    if (r.has_validation) {
      j.add("val_loss", r.validation.loss)
          .add("val_accuracy", r.validation.accuracy)
          .add("val_accuracy_ctx1", r.validation.accuracy_ctx[0])
          .add("val_accuracy_ctx2", r.validation.accuracy_ctx[1]);
    }
    log_.write(j);
  }

 private:
  MetricsLog log_;
  const CheckpointMeta& meta_;  ///< the trainer's, for the skip and stop-rule counts
  const TrainingOptions& training_;
};

// checkpoints/step_NNNNNN.h5 every save_every steps and at the last step.
class CheckpointObserver : public StepObserver {
 public:
  CheckpointObserver(std::int64_t every, std::int64_t total_steps, std::function<void()> save)
      : every_(every), total_steps_(total_steps), save_(std::move(save)) {}

  void on_step(StepReport& r) override {
    if (r.step % every_ == 0 || r.step == total_steps_) save_();
  }

 private:
  std::int64_t every_;
  std::int64_t total_steps_;
  std::function<void()> save_;
};

// The caller's TrainRunOptions::on_step, with the time since the run started.
class ProgressObserver : public StepObserver {
 public:
  ProgressObserver(Clock::time_point start, std::function<void(const StepReport&)> on_step)
      : start_(start), on_step_(std::move(on_step)) {}

  void on_step(StepReport& r) override {
    r.elapsed_s = seconds_since(start_);
    if (on_step_) on_step_(r);
  }

 private:
  Clock::time_point start_;
  std::function<void(const StepReport&)> on_step_;
};

template <typename Scalar>
class Trainer {
 public:
  Trainer(const Config& config, const TimeGrid& grid, const RunDir& run,
          const TrainRunOptions& options)
      : config_(config),
        run_(run),
        options_(options),
        comm_(options.comm ? *options.comm : serial_comm()),
        grid_(grid),
        task_(make_source(config, options)),
        threads_(resolve_threads(options.threads > 0 ? options.threads : config.training.threads,
                                 comm_)),
        batch_grad_(config.integrator, grid_, config.task.label_type, threads_, comm_),
        mask_(config.training.trained_groups()),
        total_steps_(config.training.total_steps()),
        steps_per_epoch_(config.training.n_train_trials / config.training.batch_size) {
    meta_.seed = config.training.seed;
    meta_.precision = config.training.precision;
    meta_.config_yaml = to_yaml(config);
    // Alone, a stop request cancels the solve under way (within a time step), so SIGINT is
    // answered in milliseconds whatever the size of a step; the abandoned step is taken again on
    // resume. Over several ranks every rank must finish the step's allreduce: the flag travels in
    // it instead.
    if (comm_.size() == 1) batch_grad_.set_cancel(options_.stop_requested);
    if (config.training.precision == Precision::kBf16) batch_grad_.set_bulk_mode(BulkMode::kBf16);
  }

  // The config's generator, unless the caller brings its own trials.
  static std::unique_ptr<ContextSwitchTask> make_source(const Config& c, const TrainRunOptions& o) {
    if (o.trials != nullptr) return nullptr;
    return std::make_unique<ContextSwitchTask>(c.task, c.integrator.dt, c.training.seed,
                                               c.training.n_train_trials, c.training.n_val_trials,
                                               0);
  }

  const TrialSource& source() const { return options_.trials ? *options_.trials : *task_; }

  void check_source() const {
    if (options_.trials != nullptr && config_.training.input_noise_ramp()) {
      throw InputError(
          "training.input_noise_ramp_end > 0 needs the config's trial generator: the curriculum "
          "ramps its input noise, and the trials given to the trainer hold theirs as they are");
    }
    const TrialSource& s = source();
    if (s.n_steps() != grid_.K || s.d_in() != config_.rnn.d_in) {
      throw InputError(fmt::format(
          "the trials have {} steps of {} channels; the config asks for {} steps (T / dt) of {} "
          "(rnn.d_in)",
          s.n_steps(), s.d_in(), grid_.K, config_.rnn.d_in));
    }
    if (s.size(Split::kTrain) < config_.training.n_train_trials ||
        s.size(Split::kValidation) < config_.training.n_val_trials) {
      throw InputError(fmt::format(
          "the trials hold {} training and {} validation trials; the config asks for {} and {}",
          s.size(Split::kTrain), s.size(Split::kValidation), config_.training.n_train_trials,
          config_.training.n_val_trials));
    }
  }

  TrainSummary run() {
    check_source();
    const auto t_start = Clock::now();
    run_collectively(comm_, [&] { start(); });
    check_ranks_agree();
    TrainSummary summary;
    summary.total_steps = total_steps_;
    const auto observers = make_observers(t_start);
    double step_seconds = 0.0;
    // Over several ranks the stop decision is the sum of the ranks' flags from the last step's
    // allreduce, so that every rank stops after the same step; alone, the flag itself.
    bool peers_stop = false;
    while (meta_.step < total_steps_ && !stop_rule_met()) {
      if (comm_.size() == 1 ? local_stop() : peers_stop) {
        const std::string path = save_step_checkpoint();
        summary.status = TrainStatus::kInterrupted;
        summary.message =
            fmt::format("interrupted at step {}; resume with --resume {}", meta_.step, path);
        break;
      }
      std::optional<StepReport> rep = optimization_step(peers_stop);
      // A stop request (one rank only): nothing of the step has changed yet; the next turn of the
      // loop writes the checkpoint of the step before and stops.
      if (!rep) continue;
      step_seconds += rep->step_time_s;
      if (validation_due(meta_.step) && !validation_step(*rep, summary)) continue;
      for (const auto& o : observers) o->on_step(*rep);
    }
    finish(summary);
    summary.steps_done = meta_.step;
    summary.wall_time_s = seconds_since(t_start);
    summary.step_time_s = step_seconds;
    summary.best_val_loss = meta_.best_val_loss;
    summary.best_step = meta_.best_step;
    summary.nan_skips = meta_.nan_skips;
    summary.last_checkpoint = last_checkpoint_;
    return summary;
  }

 private:
  bool validation_due(std::int64_t step) const {
    return step % config_.training.eval_every == 0 || step == total_steps_;
  }

  // The metrics log (rank 0), the checkpoint schedule and the caller's progress callback, told
  // about each finished step in that order.
  std::vector<std::unique_ptr<StepObserver>> make_observers(Clock::time_point t_start) {
    std::vector<std::unique_ptr<StepObserver>> observers;
    if (comm_.is_root()) {
      observers.push_back(std::make_unique<MetricsObserver>(
          run_.metrics(), options_.resume.empty() ? -1 : meta_.step, meta_, config_.training));
    }
    observers.push_back(std::make_unique<CheckpointObserver>(
        config_.training.save_every, total_steps_, [this] { save_step_checkpoint(); }));
    observers.push_back(std::make_unique<ProgressObserver>(t_start, options_.on_step));
    return observers;
  }

  // The trials of step s: the epoch's order, and the epoch's noise.
  const std::int64_t* batch_indices(std::int64_t s) {
    const std::int64_t epoch = s / steps_per_epoch_;
    if (epoch != order_epoch_) {
      order_ = epoch_order(epoch);
      order_epoch_ = epoch;
    }
    batch_grad_.set_noise_epoch(static_cast<std::uint32_t>(epoch));
    return order_.data() + (s % steps_per_epoch_) * config_.training.batch_size;
  }

  // Step meta_.step + 1: the batch's loss and gradient, then the update (or the non-finite
  // policy). Sets `peers_stop` from the step's allreduce; nullopt when a stop request on this rank
  // cancelled the gradient, before anything changed.
  std::optional<StepReport> optimization_step(bool& peers_stop) {
    const auto& t = config_.training;
    const std::int64_t s = meta_.step;
    // Validation takes several steps' time at the default size, too long to wait for after
    // SIGINT: a stop request abandons it, and the step with it (validate()). Keep what the step
    // changes, to put back.
    if (comm_.size() == 1 && validation_due(s + 1)) {
      before_step_ = BeforeStep{net_.theta, adam_, meta_};
    }
    const std::int64_t* indices = batch_indices(s);
    const double lr = learning_rate_at(t, s, total_steps_);
    // The curriculum: this step's training trials get the input noise std of step s + 1.
    if (task_ && t.input_noise_ramp()) {
      task_->set_train_input_noise_std(t.input_noise_std_at(s, config_.task.input_noise_std));
    }
    const auto t_step = Clock::now();
    double stop_flag = local_stop() ? 1.0 : 0.0;
    typename BatchGradient<Scalar>::Result r;
    try {
      r = batch_grad_.loss_and_gradient(net_, source(), Split::kTrain, indices, t.batch_size,
                                        static_cast<double>(t.batch_size), grad_,
                                        std::span<double>(&stop_flag, 1));
    } catch (const Cancelled&) {
      return std::nullopt;
    }
    peers_stop = stop_flag > 0.0;
    StepReport rep;
    rep.step = s + 1;
    rep.total_steps = total_steps_;
    rep.loss = r.loss;
    rep.accuracy = r.metrics.result().accuracy;
    rep.learning_rate = lr;
    rep.stats = r.stats;
    if (std::isfinite(r.loss) && all_finite(grad_)) {
      meta_.nan_skips_in_a_row = 0;
      const OptimizerStepResult u = optimizer_step(net_.theta, grad_, adam_, t, mask_, lr);
      rep.loss += u.penalty;
      rep.grad_norm = u.grad_norm;
    } else {
      skip_non_finite(rep, r.loss);
    }
    meta_.step = s + 1;
    rep.step_time_s = seconds_since(t_step);
    return rep;
  }

  // training.on_nan: stop (a checkpoint of the last good parameters, then an error every rank
  // throws: the loss and gradient are sums over all ranks) or skip the batch, counted, until 10
  // in a row end the run.
  void skip_non_finite(StepReport& rep, double loss) {
    const std::int64_t s = meta_.step;
    const std::string what =
        !std::isfinite(loss) ? fmt::format("the loss is {}", std::isnan(loss) ? "NaN" : "Inf")
                             : fmt::format("the gradient of {} holds NaN or Inf", bad_group(grad_));
    if (config_.training.on_nan == OnNan::kStop) {
      // θ is still the last good one: the bad gradient was never applied.
      const std::string path = save_step_checkpoint();
      throw Collective<NumericalError>(fmt::format("step {}: {}; stopping (training.on_nan = "
                                                   "stop). The last good parameters are in {}",
                                                   s + 1, what, path),
                                       1);
    }
    ++meta_.nan_skips;
    ++meta_.nan_skips_in_a_row;
    rep.skipped = true;
    rep.grad_norm = std::numeric_limits<double>::quiet_NaN();
    spdlog::warn("step {}: {}; batch skipped (training.on_nan = skip, {} so far)", s + 1, what,
                 meta_.nan_skips);
    if (meta_.nan_skips_in_a_row >= kMaxConsecutiveSkips) {
      const std::int64_t in_a_row = meta_.nan_skips_in_a_row;
      --meta_.nan_skips;  // the checkpoint is of step s, before this batch
      --meta_.nan_skips_in_a_row;
      const std::string path = save_step_checkpoint();
      throw Collective<NumericalError>(
          fmt::format("step {}: {} batches in a row gave NaN or Inf; the run cannot recover. "
                      "The last good parameters are in {}",
                      s + 1, in_a_row, path),
          1);
    }
  }

  // Validation after the step, the stop rule's count and best.h5. False when a stop request
  // abandoned it: the state is put back to before the step, which a resume takes again, bit for
  // bit (nothing of the step was written yet), and the next turn of the loop writes its
  // checkpoint and stops.
  bool validation_step(StepReport& rep, TrainSummary& summary) {
    std::optional<TaskMetrics> validation = validate();
    if (!validation) {
      net_.theta = before_step_->theta;
      adam_ = before_step_->adam;
      meta_ = before_step_->meta;
      return false;
    }
    rep.has_validation = true;
    rep.validation = *validation;
    check_ranks_agree();
    count_towards_stop(rep.validation);
    if (rep.validation.loss < meta_.best_val_loss) {
      meta_.best_val_loss = rep.validation.loss;
      meta_.best_step = meta_.step;
      save(run_.best());
    }
    summary.final_validation = rep.validation;
    return true;
  }

  // After the loop: final.h5, and how the run ended (stopped early, or finished).
  void finish(TrainSummary& summary) {
    const auto& t = config_.training;
    if (summary.status != TrainStatus::kInterrupted && stop_rule_met() &&
        meta_.step < total_steps_) {
      // The stopping step's checkpoint is the last one (unless save_every wrote it already, or
      // this is a resume from it), and final.h5 is that network.
      if (last_checkpoint_ != run_.step_checkpoint(meta_.step)) save_step_checkpoint();
      save(run_.final());
      summary.status = TrainStatus::kStoppedEarly;
      summary.message = fmt::format(
          "stopped early at step {} of {}: validation accuracy >= {} in every context for {} "
          "validation{} in a row (training.stop_at_val_accuracy, training.stop_patience)",
          meta_.step, total_steps_, t.stop_at_val_accuracy, meta_.stop_streak,
          meta_.stop_streak == 1 ? "" : "s");
      spdlog::info("{}", summary.message);
    } else if (meta_.step >= total_steps_) {
      save(run_.final());
      summary.message = fmt::format("finished {} steps", meta_.step);
    }
  }
  // The stop rule: training.stop_patience validations in a row with every context (that has
  // validation trials) at or above training.stop_at_val_accuracy. Off at 0.
  bool stop_rule_met() const {
    const auto& t = config_.training;
    return t.stop_at_val_accuracy > 0.0 && meta_.stop_streak >= t.stop_patience;
  }

  void count_towards_stop(const TaskMetrics& v) {
    const double threshold = config_.training.stop_at_val_accuracy;
    if (threshold <= 0.0) return;
    bool all_above = v.n > 0;
    for (int k = 0; k < 2; ++k) {
      if (v.n_ctx[k] > 0 && v.accuracy_ctx[k] < threshold) all_above = false;
    }
    meta_.stop_streak = all_above ? meta_.stop_streak + 1 : 0;
  }

  void log_noise_settings() const {
    const auto& t = config_.training;
    if (!t.val_recurrent_noise) {
      spdlog::info(
          "validation runs without the recurrent noise (training.val_recurrent_noise: false); "
          "training steps have rnn.noise_std = {}",
          config_.rnn.noise_std);
    }
    if (!t.input_noise_ramp()) return;
    spdlog::info(
        "curriculum: the training trials' input noise std is {} up to step {}, then ramps to {} "
        "(task.input_noise_std) at step {}; validation trials have {} throughout",
        t.input_noise_ramp_from, t.input_noise_ramp_begin, config_.task.input_noise_std,
        t.input_noise_ramp_end, config_.task.input_noise_std);
  }

  bool local_stop() const { return options_.stop_requested && options_.stop_requested->load(); }

  // Every rank draws (or loads) the same network; rank 0 writes the files.
  void start() {
    const std::string resolved = comparable_yaml(config_);
    if (options_.resume.empty()) {
      net_ = init_network<Scalar>(config_.rnn, config_.training.seed);
      adam_ = AdamState<Scalar>(net_.theta.layout().total());
      if (comm_.is_root()) write_text_file(run_.config(), to_yaml(config_));
      save_step_checkpoint();  // step_000000.h5: the untrained network
      spdlog::info("training {} steps ({} trials/batch, {}, {}) into {}", total_steps_,
                   config_.training.batch_size, parallelism(),
                   to_string(config_.training.precision), run_.root);
      log_bulk_backend();
      log_noise_settings();
      warn_idle_ranks();
      return;
    }
    LoadedCheckpoint<Scalar> ck;
    Config saved;
    try {
      ck = load_checkpoint<Scalar>(options_.resume);
      saved = stored_config(ck.info.meta, options_.resume);
    } catch (const IoError& e) {
      throw InputError(e.what());
    }
    const std::string diff = first_difference(comparable_yaml(saved), resolved);
    if (!diff.empty()) {
      throw InputError(options_.resume +
                       ": the checkpoint was written with another config: " + diff);
    }
    if (ck.info.meta.precision != config_.training.precision) {
      throw InputError(options_.resume + ": precision differs from training.precision");
    }
    net_ = std::move(ck.net);
    // The dynamics' noise is the config's (a checkpoint stores parameters, not dynamics).
    net_.noise_std = config_.rnn.noise_std;
    net_.noise_seed = config_.training.seed;
    adam_ = std::move(ck.adam);
    meta_.step = ck.info.meta.step;
    meta_.best_val_loss = ck.info.meta.best_val_loss;
    meta_.best_step = ck.info.meta.best_step;
    meta_.nan_skips = ck.info.meta.nan_skips;
    meta_.nan_skips_in_a_row = ck.info.meta.nan_skips_in_a_row;
    meta_.stop_streak = ck.info.meta.stop_streak;
    last_checkpoint_ = options_.resume;
    if (comm_.is_root()) write_text_file(run_.config(), to_yaml(config_));
    spdlog::info("resuming from {} at step {} of {} ({})", options_.resume, meta_.step,
                 total_steps_, parallelism());
    log_bulk_backend();
    log_noise_settings();
    warn_idle_ranks();
  }

  // Which kernel the bulk products run on: float32's (oneDNN or lrnn's Eigen kernel), or bf16's,
  // whose fallback is correct but slow.
  void log_bulk_backend() const {
    if (config_.training.precision == Precision::kFloat32) {
      // The kernel of the batch's full blocks (a partial last block may run on the other).
      const auto trials = static_cast<int>(
          std::min<Index>(config_.training.batch_size, BatchGradient<Scalar>::kTrialsPerBlock));
      spdlog::info("float32 bulk product: {}", float32_backend(config_.rnn.N, trials));
      return;
    }
    if (config_.training.precision != Precision::kBf16) return;
    const std::string backend = bf16_backend();
    if (backend.rfind("oneDNN", 0) == 0) {
      spdlog::info("bf16 bulk product: {}", backend);
    } else {
      spdlog::warn("bf16 bulk product: {}; training.precision: float32 is faster here", backend);
    }
    if (config_.integrator.method != Method::kEuler) {
      // Rounded to bfloat16, the right-hand side is a step function of the state at the 4e-3
      // scale; the error estimate sees it (measured on the default task: 410 accepted steps
      // instead of 66, a step 2.5x slower than float32's).
      spdlog::warn(
          "bf16 with integrator.method: {} takes several times the steps of float32 "
          "(bfloat16's rounding shows in the error estimate); euler gains from bf16",
          to_string(config_.integrator.method));
    }
  }

  std::string parallelism() const {
    if (comm_.size() == 1) return fmt::format("{} threads", threads_);
    return fmt::format("{} ranks x {} threads", comm_.size(), threads_);
  }

  // A batch is shared among the ranks by blocks of 16 trials: with fewer blocks than ranks, some
  // ranks have nothing to do.
  void warn_idle_ranks() const {
    const std::int64_t blocks =
        (config_.training.batch_size + BatchGradient<Scalar>::kTrialsPerBlock - 1) /
        BatchGradient<Scalar>::kTrialsPerBlock;
    if (blocks < comm_.size()) {
      spdlog::warn(
          "training.batch_size = {} makes {} blocks of {} trials for {} ranks: {} ranks have no "
          "work; use a batch of at least {} trials",
          config_.training.batch_size, blocks, BatchGradient<Scalar>::kTrialsPerBlock, comm_.size(),
          comm_.size() - blocks, BatchGradient<Scalar>::kTrialsPerBlock * comm_.size());
    }
  }

  // The ranks must hold the same parameters and optimizer state, bit for bit: they take the same
  // step from the same reduced gradient. A difference (ranks on CPUs that round differently, a
  // bug) ends the run on every rank rather than letting it train on silently.
  void check_ranks_agree() const {
    if (comm_.size() == 1) return;
    std::uint64_t h = 14695981039346656037ULL;
    h = fnv1a(net_.theta.flat(), h);
    h = fnv1a(adam_.m, h);
    h = fnv1a(adam_.v, h);
    // max over ranks of (h, -h), in two exact 32-bit halves: max == -max(-h) iff all are equal.
    const auto hi = static_cast<double>(h >> 32), lo = static_cast<double>(h & 0xffffffffULL);
    double buf[4] = {hi, lo, -hi, -lo};
    comm_.allreduce_max(buf, 4);
    if (buf[0] != -buf[2] || buf[1] != -buf[3]) {
      throw Collective<NumericalError>(
          fmt::format("after step {} the {} ranks hold different parameters (checksums differ): "
                      "are they the same build on the same kind of CPU?",
                      meta_.step, comm_.size()),
          1);
    }
  }

  // Epoch e visits the training trials in a random order keyed by (seed, e): Fisher-Yates.
  std::vector<std::int64_t> epoch_order(std::int64_t epoch) const {
    return training_order(source(), config_.training.seed, epoch, config_.training.n_train_trials,
                          config_.training.balanced_batches);
  }

  /// Sets a network's recurrent noise to 0 for its lifetime (when `off`), and puts it back.
  class NoiseOff {
   public:
    NoiseOff(Network<Scalar>& net, bool off) : net_(net), saved_(net.noise_std) {
      if (off) net_.noise_std = 0.0;
    }
    ~NoiseOff() { net_.noise_std = saved_; }
    NoiseOff(const NoiseOff&) = delete;
    NoiseOff& operator=(const NoiseOff&) = delete;

   private:
    Network<Scalar>& net_;
    double saved_;
  };

  // The validation metrics; nullopt when a stop is requested first (checked between chunks, alone).
  std::optional<TaskMetrics> validate() {
    const auto n_val = static_cast<std::int64_t>(config_.training.n_val_trials);
    // Over several ranks, one pass shared among them and one reduction; alone, chunks of a batch
    // (the numbers of earlier versions, bit for bit).
    const std::int64_t chunk = comm_.size() == 1 ? config_.training.batch_size : n_val;
    MetricsAccumulator acc(config_.task.label_type);
    std::vector<std::int64_t> idx(static_cast<std::size_t>(chunk));
    // training.val_recurrent_noise: false validates the deterministic network, as it is tested.
    const NoiseOff noise_off(net_, !config_.training.val_recurrent_noise);
    for (std::int64_t first = 0; first < n_val; first += chunk) {
      if (comm_.size() == 1 && local_stop()) return std::nullopt;
      const std::int64_t count = std::min(chunk, n_val - first);
      std::iota(idx.begin(), idx.begin() + count, first);
      try {
        acc.merge(
            batch_grad_.evaluate(net_, source(), Split::kValidation, idx.data(), count).metrics);
      } catch (const Cancelled&) {
        return std::nullopt;  // a stop request, within the chunk
      }
    }
    const TaskMetrics m = acc.result();
    spdlog::info(
        "step {}: validation loss {:.4f}, accuracy {:.4f} (context 1 {:.4f}, context 2 "
        "{:.4f}) on {} trials",
        meta_.step, m.loss, m.accuracy, m.accuracy_ctx[0], m.accuracy_ctx[1], m.n);
    return m;
  }

  void save(const std::string& path) {
    if (comm_.is_root()) save_checkpoint(path, net_, adam_, meta_);
  }

  std::string save_step_checkpoint() {
    const std::string path = run_.step_checkpoint(meta_.step);
    save(path);
    last_checkpoint_ = path;
    return path;
  }

  Config config_;
  RunDir run_;
  TrainRunOptions options_;
  const Comm& comm_;
  TimeGrid grid_;
  std::unique_ptr<ContextSwitchTask> task_;  ///< the generator; null when options_.trials is given
  int threads_;
  BatchGradient<Scalar> batch_grad_;
  GroupMask mask_;
  std::int64_t total_steps_;
  std::int64_t steps_per_epoch_;
  Network<Scalar> net_;
  AdamState<Scalar> adam_;
  Params<Scalar> grad_;
  CheckpointMeta meta_;
  /// The state before a step that validates, put back when a stop request abandons it.
  struct BeforeStep {
    Params<Scalar> theta;
    AdamState<Scalar> adam;
    CheckpointMeta meta;
  };
  std::optional<BeforeStep> before_step_;
  std::vector<std::int64_t> order_;  ///< the training order of epoch order_epoch_
  std::int64_t order_epoch_ = -1;
  std::string last_checkpoint_;
};

}  // namespace

namespace {

// Loads task.trials_file for a run and resolves the config against it: the file sets rnn.d_in
// and the trial length (K steps of integrator.dt), and the resolved config records the file's
// absolute path, so that config.yaml in the run directory, and a --resume from another working
// directory, name the same file. The checkpoints store that config, so resuming with another
// file (or one of another d_in) is refused by the config comparison in Trainer::start().
TrialsFile load_trials_file(Config& c, TimeGrid& grid) {
  const std::string given = c.task.trials_file;
  const std::int64_t n_val = c.training.n_val_trials;
  TrialsFile file = TrialsFile::load(given, TrialsFileOptions{c.task.label_type, n_val});
  c.task.trials_file = fs::absolute(given).lexically_normal().string();

  const Index K = file.n_steps();
  const double dt = c.integrator.dt;
  try {
    grid = make_time_grid(K, dt, c.task.T_avg);
  } catch (const ConfigError& e) {
    throw InputError(given + ": " + e.what());
  }
  if (whole_steps(c.task.T(), dt) != K) {
    spdlog::info(
        "{}: {} steps of integrator.dt = {} make trials of T = {}; the file sets the trial "
        "length, task.T_burn + task.T_stim = {} does not apply",
        given, K, dt, grid.T, c.task.T());
  }
  if (c.rnn.d_in != file.d_in()) {
    spdlog::info("{}: the trials have {} input channels; rnn.d_in = {} becomes {}", given,
                 file.d_in(), c.rnn.d_in, file.d_in());
    c.rnn.d_in = static_cast<int>(file.d_in());
  }

  const std::int64_t n_train = file.size(Split::kTrain);
  const std::int64_t n_val_file = file.size(Split::kValidation);
  if (n_train < c.training.n_train_trials) {
    const std::string where = file.has_split() ? "/split = 0"
                                               : fmt::format(
                                                     "{} trials, of which the last {} validate: "
                                                     "training.n_val_trials",
                                                     file.n_trials(), n_val);
    throw InputError(fmt::format(
        "{}: has {} training trials ({}), but training.n_train_trials = {}: set it to at most {}",
        given, n_train, where, c.training.n_train_trials, n_train));
  }
  if (n_val_file < n_val) {
    throw InputError(fmt::format(
        "{}: has {} validation trials (/split = 1), but training.n_val_trials = {}: set it to at "
        "most {}",
        given, n_val_file, n_val, n_val_file));
  }
  if (n_train > c.training.n_train_trials) {
    spdlog::info("{}: training on the first {} of its {} training trials (training.n_train_trials)",
                 given, c.training.n_train_trials, n_train);
  }
  spdlog::info("{}: {} trials of {} steps x {} channels ({} train, {} validation{}), held as {}",
               given, file.n_trials(), K, file.d_in(), n_train, n_val_file,
               file.has_split() ? fmt::format(", {} test", file.size(Split::kTest)) : "",
               file.stores_float() ? "float32" : "float64");
  return file;
}

}  // namespace

TrainSummary train(const Config& config, const RunDir& run_dir, const TrainRunOptions& options) {
  const Comm& comm = options.comm ? *options.comm : serial_comm();
  validate(config);
  // Every rank must train the same network on the same data: a rank started with another config
  // or checkpoint would add gradients of another problem.
  require_same_on_all_ranks(comm, key_path_lines(comparable_yaml(config)), "the config");
  require_same_on_all_ranks(comm, "--resume " + options.resume, "the --resume checkpoint");
  Config resolved = config;
  TrainRunOptions run_options = options;
  std::optional<TrialsFile> file;  // outlives the Trainer, which reads it through run_options
  TimeGrid grid;
  if (!config.task.trials_file.empty() && options.trials == nullptr) {
    file.emplace(load_trials_file(resolved, grid));
    run_options.trials = &*file;
  } else {
    grid = make_time_grid(config.task, config.integrator.dt);
  }
  // Fail before anything is written if the integrator/gradient pair is not available.
  make_gradient_method<double>(resolved.integrator, grid);
  if (resolved.training.precision == Precision::kFloat64) {
    return Trainer<double>(resolved, grid, run_dir, run_options).run();
  }
  return Trainer<float>(resolved, grid, run_dir, run_options).run();
}

}  // namespace lrnn
