#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>

#include "io/json.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/io/metrics_log.hpp"
#include "lrnn/io/text_file.hpp"
#include "lrnn/report/svg_plot.hpp"
#include "lrnn/train/trainer.hpp"
#include "lrnn/workflows/sweep.hpp"

namespace lrnn {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// More runs than this is a typo in --seeds (0:1e9), not a study.
constexpr std::int64_t kMaxRuns = 1000000;
constexpr const char* kRecordFile = "sweep_run.json";

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

std::uint64_t parse_seed(const std::string& token, const std::string& text) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (token.empty() || ec != std::errc() || end != token.data() + token.size()) {
    throw ConfigError("--seeds " + text + ": '" + token +
                      "' is not a seed (a whole number >= 0; ranges as 0:99)");
  }
  return v;
}

// Splits at commas outside [] and {}, so that flow lists stay one value.
std::vector<std::string> split_top_level(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (const char c : text) {
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

// A value as it may appear in a directory name: other characters become '-'.
std::string path_safe(const std::string& v) {
  std::string out;
  for (const char c : v) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '+' || c == '-' || c == '_';
    out += ok ? c : '-';
  }
  return out;
}

// The short name of each axis in directory names and labels: its last key component ("R" for
// rnn.R), or the whole path where two axes share a last component.
std::vector<std::string> short_keys(const std::vector<SweepAxis>& grid) {
  std::vector<std::string> names;
  for (const auto& a : grid) {
    const auto dot = a.key.rfind('.');
    names.push_back(dot == std::string::npos ? a.key : a.key.substr(dot + 1));
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (std::size_t j = 0; j < names.size(); ++j) {
      if (i != j && names[i] == names[j] && grid[i].key != grid[j].key) {
        names[i] = grid[i].key;
      }
    }
  }
  return names;
}

// "R=1, g=0.8" for labels; "all runs" without a grid.
std::string point_label(const std::vector<SweepAxis>& grid,
                        const std::vector<std::string>& values) {
  if (grid.empty()) return "all runs";
  const auto keys = short_keys(grid);
  std::string s;
  for (std::size_t a = 0; a < grid.size(); ++a) {
    if (a > 0) s += ", ";
    s += keys[a] + "=" + values[a];
  }
  return s;
}

// Replaces spdlog's default logger with one that writes train.log of a run only, for as long as
// the run lasts: the sweep's terminal gets one line per run, the run's log file everything.
// A resumed run appends to the log of its earlier parts.
class RunLogger {
 public:
  RunLogger(const std::string& path, bool append) : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/!append);
    sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
    auto logger = std::make_shared<spdlog::logger>("lrnn-run", sink);
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~RunLogger() { spdlog::set_default_logger(previous_); }
  RunLogger(const RunLogger&) = delete;
  RunLogger& operator=(const RunLogger&) = delete;

 private:
  std::shared_ptr<spdlog::logger> previous_;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string record_path(const SweepRun& run) { return run.config.output.dir + "/" + kRecordFile; }

SweepRecord blank_record(const SweepRun& run) {
  SweepRecord r;
  r.index = run.index;
  r.name = run.name;
  r.seed = run.seed;
  r.status = RunStatus::kMissing;
  r.train_loss = r.val_loss = r.val_accuracy = r.val_accuracy_ctx1 = r.val_accuracy_ctx2 =
      r.best_val_loss = r.wall_time_s = kNaN;
  return r;
}

// The record in this run's directory, if there is a readable one of this run (not of another
// sweep that used the same directory).
std::optional<SweepRecord> stored_record(const SweepRun& run) {
  const std::string path = record_path(run);
  if (!fs::exists(path)) return std::nullopt;
  try {
    SweepRecord r = record_from_json(read_text(path), path);
    // The name says which run it is; the index is its place in the sweep that wrote it, which
    // may have had other seeds (one task of a job array has one).
    if (r.name != run.name || r.seed != run.seed) return std::nullopt;
    r.index = run.index;
    r.reused = true;
    return r;
  } catch (const IoError&) {
    return std::nullopt;  // a torn or foreign file: the run is trained again
  }
}

// A finished record: ok, or diverged (a rerun of the same config would diverge again, bit for
// bit). Failed, interrupted and unrecorded runs are trained again (resume_checkpoint says from
// where).
std::optional<SweepRecord> finished_record(const SweepRun& run) {
  std::optional<SweepRecord> r = stored_record(run);
  if (r && r->status != RunStatus::kOk && r->status != RunStatus::kDiverged) return std::nullopt;
  return r;
}

// True if the checkpoint at `path` was written by this run's config (output.dir aside: the
// sweep directory may have been given another way) at its precision. False for a file that
// does not read: an older checkpoint may still do.
bool checkpoint_of(const SweepRun& run, const std::string& path) {
  try {
    const CheckpointInfo info = read_checkpoint_info(path);
    Config saved = stored_config(info.meta, path);
    saved.output.dir = run.config.output.dir;
    return info.meta.precision == run.config.training.precision &&
           to_yaml(saved) == to_yaml(run.config);
  } catch (const Error&) {
    return false;
  }
}

// The checkpoint an unfinished run continues from: the newest checkpoints/step_NNNNNN.h5 of this
// run's config, if its record says it was interrupted (a signal: scancel, a time limit, a
// requeue) or it has no record (the process was killed: SIGKILL, a lost node). A run that
// failed starts again (its error may have been anywhere), as does one whose checkpoints are of
// another config (the sweep was changed). "" when the run starts from the beginning.
std::string resume_checkpoint(const SweepRun& run) {
  const std::optional<SweepRecord> r = stored_record(run);
  if (r && r->status != RunStatus::kInterrupted) return "";
  const RunDir dir{run.config.output.dir};
  std::map<std::int64_t, std::string, std::greater<>> by_step;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir.checkpoints(), ec)) {
    const std::string f = e.path().filename().string();
    std::int64_t step = -1;
    // step_NNNNNN.h5: the name is what RunDir::step_checkpoint writes.
    if (f.size() == 14 && f.rfind("step_", 0) == 0 && f.substr(11) == ".h5") {
      const auto [end, err] = std::from_chars(f.data() + 5, f.data() + 11, step);
      if (err != std::errc() || end != f.data() + 11) continue;
      by_step[step] = e.path().string();
    }
  }
  for (const auto& [step, path] : by_step) {
    if (checkpoint_of(run, path)) return path;
  }
  return "";
}

// The batch loss of the last step in metrics.jsonl, for a run resumed at its last step (which
// trains no step, so on_step never reports it). NaN if unknown.
double last_logged_loss(const RunDir& dir) {
  std::ifstream in(dir.metrics());
  std::string last;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) last = line;
  }
  try {
    const detail::Json o = detail::parse(last);
    const auto it = o.is_object() ? o.find("loss") : o.end();
    if (it != o.end() && it->is_number()) return it->get<double>();
  } catch (const std::invalid_argument&) {
  }
  return kNaN;
}

SweepRecord train_run(const SweepRun& run, const SweepOptions& options, const Comm& comm,
                      const std::string& resume) {
  SweepRecord rec = blank_record(run);
  rec.rank = comm.rank();
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<RunDir> dir;
  try {
    dir = prepare_run_dir(run.config.output.dir,
                          resume.empty() ? RunDirMode::kOverwrite : RunDirMode::kResume);
    // The record of the earlier part goes: a run killed now has none, and is resumed again.
    std::error_code ec;
    fs::remove(record_path(run), ec);
    const RunLogger logger(dir->log(), !resume.empty());
    TrainRunOptions o;
    o.resume = resume;
    o.threads =
        options.threads > 0 ? options.threads : resolve_threads(run.config.training.threads, comm);
    o.stop_requested = options.stop_requested;
    o.on_step = [&](const StepReport& r) {
      rec.steps = r.step;
      rec.train_loss = r.loss;
    };
    const TrainSummary s = train(run.config, *dir, o);
    if (s.status == TrainStatus::kInterrupted) spdlog::warn("{}", s.message);
    rec.status = s.status == TrainStatus::kInterrupted ? RunStatus::kInterrupted : RunStatus::kOk;
    rec.message = s.message;
    rec.steps = s.steps_done;
    if (!std::isfinite(rec.train_loss) && rec.steps > 0) rec.train_loss = last_logged_loss(*dir);
    if (s.final_validation.n > 0) {
      rec.val_loss = s.final_validation.loss;
      rec.val_accuracy = s.final_validation.accuracy;
      rec.val_accuracy_ctx1 = s.final_validation.accuracy_ctx[0];
      rec.val_accuracy_ctx2 = s.final_validation.accuracy_ctx[1];
    }
    rec.best_val_loss = s.best_val_loss;
    rec.best_step = s.best_step;
  } catch (const NumericalError& e) {
    rec.status = RunStatus::kDiverged;
    rec.message = e.what();
  } catch (const std::exception& e) {
    rec.status = RunStatus::kFailed;
    rec.message = e.what();
  }
  rec.wall_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (dir) {
    try {
      write_text_file(record_path(run), to_json(rec) + "\n");
    } catch (const IoError& e) {
      rec.status = RunStatus::kFailed;
      rec.message += std::string(rec.message.empty() ? "" : "; ") + e.what();
    }
  }
  return rec;
}

struct PointStats {
  int n_runs = 0;
  int n_ok = 0;
  double acc_mean = kNaN, acc_sd = kNaN, acc_min = kNaN, acc_max = kNaN;
  // Losses of one point spread over decades (a run stuck at one wrong condition has 10x the
  // loss of one that learned all): their statistics are taken of log10(loss).
  double log_loss_mean = kNaN, log_loss_sd = kNaN, loss_min = kNaN, loss_max = kNaN;
};

// Mean and sample standard deviation (0 for a single value) of the finite values.
std::pair<double, double> mean_sd(const std::vector<double>& v) {
  if (v.empty()) return {kNaN, kNaN};
  double m = 0.0;
  for (const double x : v) m += x;
  m /= static_cast<double>(v.size());
  double ss = 0.0;
  for (const double x : v) ss += (x - m) * (x - m);
  const double sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0;
  return {m, sd};
}

std::vector<PointStats> point_stats(const std::vector<SweepRun>& runs,
                                    const std::vector<SweepRecord>& records,
                                    std::int64_t n_points) {
  std::vector<std::vector<double>> acc(static_cast<std::size_t>(n_points)),
      loss(static_cast<std::size_t>(n_points));
  std::vector<PointStats> st(static_cast<std::size_t>(n_points));
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto p = static_cast<std::size_t>(runs[i].point);
    ++st[p].n_runs;
    const SweepRecord& r = records[i];
    if (r.status != RunStatus::kOk || !std::isfinite(r.val_accuracy)) continue;
    ++st[p].n_ok;
    acc[p].push_back(r.val_accuracy);
    if (std::isfinite(r.val_loss) && r.val_loss > 0) loss[p].push_back(r.val_loss);
  }
  for (std::size_t p = 0; p < st.size(); ++p) {
    std::tie(st[p].acc_mean, st[p].acc_sd) = mean_sd(acc[p]);
    std::vector<double> log_loss;
    for (const double l : loss[p]) log_loss.push_back(std::log10(l));
    std::tie(st[p].log_loss_mean, st[p].log_loss_sd) = mean_sd(log_loss);
    if (!loss[p].empty()) {
      st[p].loss_min = *std::min_element(loss[p].begin(), loss[p].end());
      st[p].loss_max = *std::max_element(loss[p].begin(), loss[p].end());
    }
    if (!acc[p].empty()) {
      st[p].acc_min = *std::min_element(acc[p].begin(), acc[p].end());
      st[p].acc_max = *std::max_element(acc[p].begin(), acc[p].end());
    }
  }
  return st;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') out += '"';
    out += c == '\n' || c == '\r' ? ' ' : c;
  }
  return out + "\"";
}

std::string csv_number(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : ""; }

}  // namespace

std::vector<std::uint64_t> parse_seeds(const std::string& text) {
  std::vector<std::uint64_t> seeds;
  std::set<std::uint64_t> seen;
  for (const std::string& token : split_top_level(text)) {
    const auto colon = token.find(':');
    std::uint64_t lo = 0, hi = 0;
    if (colon == std::string::npos) {
      lo = hi = parse_seed(token, text);
    } else {
      lo = parse_seed(trim(token.substr(0, colon)), text);
      hi = parse_seed(trim(token.substr(colon + 1)), text);
      if (hi < lo) throw ConfigError("--seeds " + text + ": in '" + token + "' the end < start");
    }
    if (hi - lo >= static_cast<std::uint64_t>(kMaxRuns)) {
      throw ConfigError("--seeds " + text + ": more than " + std::to_string(kMaxRuns) + " seeds");
    }
    for (std::uint64_t s = lo;; ++s) {
      if (!seen.insert(s).second) {
        throw ConfigError("--seeds " + text + ": seed " + std::to_string(s) + " is given twice");
      }
      seeds.push_back(s);
      if (s == hi) break;
    }
  }
  return seeds;
}

SweepAxis parse_grid_axis(const std::string& text) {
  const auto eq = text.find('=');
  SweepAxis axis;
  if (eq != std::string::npos) axis.key = trim(text.substr(0, eq));
  if (eq == std::string::npos || axis.key.empty()) {
    throw ConfigError("--grid " + text + ": not of the form key.path=v1,v2,... (e.g. rnn.R=1,2,3)");
  }
  std::set<std::string> seen;
  for (const std::string& v : split_top_level(text.substr(eq + 1))) {
    if (v.empty()) throw ConfigError("--grid " + text + ": an empty value");
    if (!seen.insert(v).second) throw ConfigError("--grid " + text + ": '" + v + "' twice");
    axis.values.push_back(v);
  }
  return axis;
}

const char* to_string(RunStatus s) {
  switch (s) {
    case RunStatus::kOk:
      return "ok";
    case RunStatus::kDiverged:
      return "diverged";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kInterrupted:
      return "interrupted";
    case RunStatus::kMissing:
      break;
  }
  return "missing";
}

std::vector<SweepRun> plan_sweep(const SweepOptions& options) {
  const Config base = load_config(options.config_path, options.overrides);
  const std::string out = options.out.empty() ? base.output.dir + "_sweep" : options.out;
  if (options.seeds.empty()) throw ConfigError("--seeds: no seeds");
  std::set<std::string> keys;
  std::int64_t n_points = 1;
  for (const auto& a : options.grid) {
    if (a.key == "training.seed") throw ConfigError("--grid training.seed: use --seeds");
    if (a.key == "output.dir") throw ConfigError("--grid output.dir: the sweep names the runs");
    if (!keys.insert(a.key).second) throw ConfigError("--grid " + a.key + ": given twice");
    if (a.values.empty()) throw ConfigError("--grid " + a.key + ": no values");
    n_points *= static_cast<std::int64_t>(a.values.size());
    if (n_points * static_cast<std::int64_t>(options.seeds.size()) > kMaxRuns) {
      throw ConfigError("the sweep has more than " + std::to_string(kMaxRuns) + " runs");
    }
  }
  const std::vector<std::string> short_names = short_keys(options.grid);

  std::vector<SweepRun> runs;
  std::set<std::string> names;
  for (std::int64_t p = 0; p < n_points; ++p) {
    // Point p in mixed radix, the first axis slowest.
    std::vector<std::string> values(options.grid.size());
    std::int64_t rest = p;
    for (std::size_t a = options.grid.size(); a-- > 0;) {
      const auto n = static_cast<std::int64_t>(options.grid[a].values.size());
      values[a] = options.grid[a].values[static_cast<std::size_t>(rest % n)];
      rest /= n;
    }
    std::string prefix;
    std::vector<std::string> overrides = options.overrides;
    for (std::size_t a = 0; a < options.grid.size(); ++a) {
      prefix += short_names[a] + "=" + path_safe(values[a]) + "_";
      overrides.push_back(options.grid[a].key + "=" + values[a]);
    }
    for (const std::uint64_t seed : options.seeds) {
      SweepRun run;
      run.index = static_cast<std::int64_t>(runs.size());
      run.point = p;
      run.values = values;
      run.seed = seed;
      // Not zero-padded: a run's directory must not depend on the other seeds of the sweep, so
      // that a job array's tasks (one seed each) and the sweep that collects them agree.
      run.name = prefix + "seed" + std::to_string(seed);
      if (!names.insert(run.name).second) {
        throw ConfigError("--grid: two runs would share the directory " + run.name +
                          " (values that differ only in characters a path cannot hold)");
      }
      std::vector<std::string> run_overrides = overrides;
      run_overrides.push_back("training.seed=" + std::to_string(seed));
      try {
        run.config = load_config(options.config_path, run_overrides);
      } catch (const ConfigError& e) {
        throw ConfigError("run " + run.name + ": " + e.what());
      }
      run.config.output.dir = (fs::path(out) / run.name).string();
      runs.push_back(std::move(run));
    }
  }
  return runs;
}

std::string to_json(const SweepRecord& r) {
  JsonObject j;
  j.add("index", r.index)
      .add("name", r.name)
      .add("seed", std::to_string(r.seed))  // a string: JSON numbers lose 64-bit integers
      .add("status", to_string(r.status))
      .add("steps", r.steps)
      .add("train_loss", r.train_loss)
      .add("val_loss", r.val_loss)
      .add("val_accuracy", r.val_accuracy)
      .add("val_accuracy_ctx1", r.val_accuracy_ctx1)
      .add("val_accuracy_ctx2", r.val_accuracy_ctx2)
      .add("best_val_loss", r.best_val_loss)
      .add("best_step", r.best_step)
      .add("wall_time_s", r.wall_time_s)
      .add("rank", r.rank)
      .add("reused", r.reused)
      .add("message", r.message);
  return j.str();
}

SweepRecord record_from_json(const std::string& text, const std::string& source) {
  detail::Json o;
  try {
    o = detail::parse(text);
  } catch (const std::invalid_argument& e) {
    throw IoError(source + ": " + e.what());
  }
  if (!o.is_object()) throw IoError(source + ": not a JSON object");
  const auto get = [&](const char* key) -> const detail::Json& {
    const auto it = o.find(key);
    if (it == o.end()) throw IoError(source + ": no \"" + std::string(key) + "\"");
    return *it;
  };
  const auto number = [&](const char* key) {
    const detail::Json& v = get(key);
    return v.is_number() ? v.get<double>() : kNaN;
  };
  const auto text_of = [&](const char* key) {
    const detail::Json& v = get(key);
    return v.is_string() ? v.get<std::string>() : std::string();
  };
  SweepRecord r;
  r.index = static_cast<std::int64_t>(number("index"));
  r.name = text_of("name");
  r.seed = std::strtoull(text_of("seed").c_str(), nullptr, 10);
  const std::string status = text_of("status");
  r.status = RunStatus::kMissing;
  for (const RunStatus s :
       {RunStatus::kOk, RunStatus::kDiverged, RunStatus::kFailed, RunStatus::kInterrupted}) {
    if (status == to_string(s)) r.status = s;
  }
  r.steps = static_cast<std::int64_t>(number("steps"));
  r.train_loss = number("train_loss");
  r.val_loss = number("val_loss");
  r.val_accuracy = number("val_accuracy");
  r.val_accuracy_ctx1 = number("val_accuracy_ctx1");
  r.val_accuracy_ctx2 = number("val_accuracy_ctx2");
  r.best_val_loss = number("best_val_loss");
  r.best_step = static_cast<std::int64_t>(number("best_step"));
  r.wall_time_s = number("wall_time_s");
  r.rank = static_cast<int>(number("rank"));
  r.reused = get("reused").is_boolean() && get("reused").get<bool>();
  r.message = text_of("message");
  return r;
}

namespace {

// The record of one run: what --collect finds, a finished run's own (unless --rerun), or the run
// trained now (resumed from its newest checkpoint unless --rerun).
std::optional<SweepRecord> record_of(const SweepRun& run, const SweepOptions& options,
                                     const Comm& comm) {
  std::optional<SweepRecord> rec;
  if (options.collect) {
    rec = stored_record(run);
    if (!rec) rec = blank_record(run);
  } else if (!options.rerun) {
    rec = finished_record(run);
  }
  if (!rec) {
    const std::string resume = options.rerun ? "" : resume_checkpoint(run);
    if (!resume.empty()) spdlog::info("run {} {}: resuming from {}", run.index, run.name, resume);
    rec = train_run(run, options, comm, resume);
  }
  return rec;
}

// Every rank's records (one JSON line each) in run order; a run no rank reports is "missing".
std::vector<SweepRecord> records_in_run_order(const std::vector<SweepRun>& runs,
                                              const std::vector<std::string>& gathered) {
  std::vector<SweepRecord> all;
  for (const auto& r : runs) all.push_back(blank_record(r));
  const auto n_runs = static_cast<std::int64_t>(runs.size());
  for (std::size_t rank = 0; rank < gathered.size(); ++rank) {
    std::istringstream lines(gathered[rank]);
    for (std::string line; std::getline(lines, line);) {
      SweepRecord r = record_from_json(line, fmt::format("the record from rank {}", rank));
      if (r.index >= 0 && r.index < n_runs) all[static_cast<std::size_t>(r.index)] = r;
    }
  }
  return all;
}

}  // namespace

SweepSummary run_sweep(const SweepOptions& options, const Comm& comm,
                       const std::function<void(const SweepRun&, const SweepRecord&)>& on_run) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<SweepRun> runs;
  std::string out;
  run_collectively(comm, [&] {
    runs = plan_sweep(options);
    out = options.out.empty()
              ? load_config(options.config_path, options.overrides).output.dir + "_sweep"
              : options.out;
  });
  // Every rank must plan the same runs, or rank 0's table would describe runs nobody trained.
  std::string plan;
  for (const auto& r : runs) plan += r.name + "\n" + to_yaml(r.config);
  require_same_on_all_ranks(comm, plan, "the sweep's runs (config, --set, --grid, --seeds)");
  run_collectively(comm, [&] {
    if (!comm.is_root()) return;
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) throw IoError(out + ": cannot create the sweep directory: " + ec.message());
  });

  SweepSummary summary;
  summary.n_runs = static_cast<std::int64_t>(runs.size());
  std::string mine;
  for (std::size_t i = static_cast<std::size_t>(comm.rank()); i < runs.size();
       i += static_cast<std::size_t>(comm.size())) {
    if (options.stop_requested && options.stop_requested->load()) {
      summary.interrupted = true;
      break;
    }
    const SweepRun& run = runs[i];
    const std::optional<SweepRecord> rec = record_of(run, options, comm);
    // A record found by --collect says how that run ended, not that this sweep was stopped.
    if (rec->status == RunStatus::kInterrupted && !options.collect) summary.interrupted = true;
    if (on_run) on_run(run, *rec);
    mine += to_json(*rec) + "\n";
    summary.records.push_back(*rec);
  }

  // Rank 0 gathers every rank's records, one JSON line each, and puts them in run order; runs
  // that no rank reports (cut short by a stop) are rows with status "missing". A rank whose runs
  // are done waits in the barrier, which leaves its core to the ranks still training.
  comm.barrier();
  const std::vector<std::string> gathered = comm.gather(mine, 0);
  summary.wall_time_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!comm.is_root()) {
    summary.runs = std::move(runs);
    return summary;
  }
  const std::vector<SweepRecord> all = records_in_run_order(runs, gathered);
  summary.records = all;
  summary.runs = runs;
  if (options.write_summary) {
    summary.csv = (fs::path(out) / "sweep.csv").string();
    summary.svg = (fs::path(out) / "sweep.svg").string();
    write_sweep_csv(summary.csv, options.grid, runs, all);
    plot_sweep(summary.svg, fs::path(options.config_path).stem().string(), options.grid, runs, all);
  }
  summary.wall_time_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

void write_sweep_csv(const std::string& path, const std::vector<SweepAxis>& grid,
                     const std::vector<SweepRun>& runs, const std::vector<SweepRecord>& records) {
  std::string text = "index,name";
  // Appended piece by piece: GCC 12 warns falsely about "," + std::string (GCC bug 105329).
  for (const auto& a : grid) {
    text += ',';
    text += csv_field(a.key);
  }
  text +=
      ",seed,status,steps,train_loss,val_loss,val_accuracy,val_accuracy_ctx1,val_accuracy_ctx2,"
      "best_val_loss,best_step,wall_time_s,rank,reused,message\n";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const SweepRun& run = runs[i];
    const SweepRecord& r = records[i];
    text += std::to_string(run.index);
    text += ',';
    text += csv_field(run.name);
    for (const auto& v : run.values) {
      text += ',';
      text += csv_field(v);
    }
    text += fmt::format(
        ",{},{},{},{},{},{},{},{},{},{},{},{},{},", run.seed, to_string(r.status), r.steps,
        csv_number(r.train_loss), csv_number(r.val_loss), csv_number(r.val_accuracy),
        csv_number(r.val_accuracy_ctx1), csv_number(r.val_accuracy_ctx2),
        csv_number(r.best_val_loss), r.best_step >= 0 ? std::to_string(r.best_step) : "",
        csv_number(r.wall_time_s), r.rank >= 0 ? std::to_string(r.rank) : "", r.reused ? 1 : 0);
    text += csv_field(r.message);
    text += '\n';
  }
  write_text_file(path, text);
}

namespace {

// Where the grid points sit on the x axis: one numeric axis at its values, anything else at the
// point's index (labelled with its values); and the smallest gap between points.
struct PointPositions {
  std::vector<double> x;
  bool numeric = false;
  double spacing = 1.0;
};

PointPositions point_positions(const std::vector<SweepAxis>& grid, std::int64_t n_points) {
  PointPositions pos;
  pos.x.resize(static_cast<std::size_t>(n_points));
  pos.numeric = grid.size() == 1;
  for (std::int64_t p = 0; p < n_points; ++p) {
    pos.x[static_cast<std::size_t>(p)] = static_cast<double>(p);
    if (!pos.numeric) continue;
    const std::string& v = grid[0].values[static_cast<std::size_t>(p)];
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (end != v.c_str() + v.size() || !std::isfinite(x)) {
      pos.numeric = false;
    } else {
      pos.x[static_cast<std::size_t>(p)] = x;
    }
  }
  if (!pos.numeric) {
    for (std::int64_t p = 0; p < n_points; ++p) {
      pos.x[static_cast<std::size_t>(p)] = static_cast<double>(p);
    }
  }
  if (pos.numeric && n_points > 1) {
    std::vector<double> sorted = pos.x;
    std::sort(sorted.begin(), sorted.end());
    pos.spacing = std::numeric_limits<double>::infinity();
    for (std::size_t i = 1; i < sorted.size(); ++i) {
      if (sorted[i] > sorted[i - 1]) pos.spacing = std::min(pos.spacing, sorted[i] - sorted[i - 1]);
    }
    if (!std::isfinite(pos.spacing)) pos.spacing = 1.0;
  }
  return pos;
}

// What the two panels draw: every finished seed, and each point's mean ± s.d.
struct SweepSeries {
  std::vector<double> sx, sacc, sloss;  // one per finished run
  std::vector<double> mx, macc, macc_lo, macc_hi, mloss, mloss_lo, mloss_hi;  // one per point
};

SweepSeries sweep_series(const PointPositions& pos, const std::vector<SweepRun>& runs,
                         const std::vector<SweepRecord>& records,
                         const std::vector<PointStats>& st) {
  SweepSeries out;
  // The seeds of a point spread a little sideways, so that equal accuracies stay visible.
  std::map<std::int64_t, int> seen;
  std::int64_t max_per_point = 1;
  for (const auto& s : st) max_per_point = std::max<std::int64_t>(max_per_point, s.n_runs);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const SweepRecord& r = records[i];
    const int k = seen[runs[i].point]++;
    const double offset =
        max_per_point > 1
            ? (static_cast<double>(k) / static_cast<double>(max_per_point - 1) - 0.5) * 0.3 *
                  pos.spacing
            : 0.0;
    if (r.status != RunStatus::kOk) continue;
    out.sx.push_back(pos.x[static_cast<std::size_t>(runs[i].point)] + offset);
    out.sacc.push_back(r.val_accuracy);
    out.sloss.push_back(r.val_loss);
  }
  for (std::size_t p = 0; p < st.size(); ++p) {
    out.mx.push_back(pos.x[p]);
    out.macc.push_back(st[p].acc_mean);
    out.macc_lo.push_back(st[p].acc_mean - st[p].acc_sd);
    out.macc_hi.push_back(st[p].acc_mean + st[p].acc_sd);
    out.mloss.push_back(std::pow(10.0, st[p].log_loss_mean));
    out.mloss_lo.push_back(std::pow(10.0, st[p].log_loss_mean - st[p].log_loss_sd));
    out.mloss_hi.push_back(std::pow(10.0, st[p].log_loss_mean + st[p].log_loss_sd));
  }
  return out;
}

// Point labels for a grid that is not one numeric axis.
Ticks point_ticks(const std::vector<SweepAxis>& grid, const std::vector<SweepRun>& runs,
                  std::int64_t n_points) {
  Ticks t;
  for (std::int64_t p = 0; p < n_points; ++p) {
    t.values.push_back(static_cast<double>(p));
    std::vector<std::string> values;
    for (const auto& run : runs) {
      if (run.point == p) {
        values = run.values;
        break;
      }
    }
    t.labels.push_back(grid.empty() ? "all" : point_label(grid, values));
  }
  return t;
}

// The seeds and the means of one panel: accuracy (`acc`) or loss.
void draw_points(Axes& ax, const SweepSeries& d, const PointPositions& pos, std::int64_t n_points,
                 bool acc) {
  const std::vector<double> none(d.sx.size(), kNaN);
  Style seeds;
  seeds.color = "#8c8c8c";
  seeds.marker = Marker::kCircle;
  seeds.marker_size = 2.5;
  seeds.label = "one seed";
  ax.markers_with_errorbars(d.sx, acc ? d.sacc : d.sloss, none, none, seeds);
  Style mean;
  mean.color = std::string(palette_color(0));
  mean.marker = Marker::kSquare;
  mean.marker_size = 4.5;
  mean.label = "mean ± s.d.";
  if (pos.numeric && n_points > 1) {
    Style line = mean;
    line.marker = Marker::kNone;
    line.in_legend = false;
    line.width = 1.2;
    ax.line(d.mx, acc ? d.macc : d.mloss, line);
  }
  ax.markers_with_errorbars(d.mx, acc ? d.macc : d.mloss, acc ? d.macc_lo : d.mloss_lo,
                            acc ? d.macc_hi : d.mloss_hi, mean);
}

// The panel's y axis, title and (accuracy) the chance line and legend.
void label_panel(Axes& ax, const SweepSeries& d, bool acc) {
  if (acc) {
    double lo = 0.45;
    for (const double a : d.sacc) lo = std::min(lo, a - 0.03);
    ax.set_ylim(std::max(0.0, lo), 1.02);
    Style chance;
    chance.dash = LineStyle::kDashed;
    chance.width = 1.0;
    chance.label = "chance";
    ax.hline(0.5, chance);
    ax.set_ylabel("final validation accuracy");
    ax.set_title("Accuracy per grid point");
    ax.legend(LegendPosition::kLowerRight);
  } else {
    ax.set_log_y();
    ax.set_ylabel("final validation loss");
    ax.set_title("Loss (geometric mean ×/÷ s.d.)");
  }
}

}  // namespace

void plot_sweep(const std::string& path, const std::string& title,
                const std::vector<SweepAxis>& grid, const std::vector<SweepRun>& runs,
                const std::vector<SweepRecord>& records) {
  std::int64_t n_points = 1;
  for (const auto& a : grid) n_points *= static_cast<std::int64_t>(a.values.size());
  const PointPositions pos = point_positions(grid, n_points);
  const SweepSeries d = sweep_series(pos, runs, records, point_stats(runs, records, n_points));

  int n_ok = 0;
  for (const auto& r : records) n_ok += r.status == RunStatus::kOk;
  SvgFigure fig(1, 2, 430, 320,
                fmt::format("Sweep of {}: {} runs, {} finished", title, runs.size(), n_ok));
  std::string xlabel;
  for (std::size_t a = 0; a < grid.size(); ++a) xlabel += (a ? ", " : "") + grid[a].key;
  if (grid.empty()) xlabel = "all runs";
  for (int panel = 0; panel < 2; ++panel) {
    Axes& ax = fig.axes(0, panel);
    const bool acc = panel == 0;
    draw_points(ax, d, pos, n_points, acc);
    if (!pos.numeric) {
      ax.set_xticks(point_ticks(grid, runs, n_points));
      ax.set_xlim(-0.5, static_cast<double>(n_points) - 0.5);
    } else if (n_points == 1) {
      ax.set_xlim(pos.x[0] - 1.0, pos.x[0] + 1.0);
    }
    ax.set_xlabel(xlabel);
    label_panel(ax, d, acc);
  }
  fig.save(path);
}

std::vector<std::string> sweep_report(const std::vector<SweepAxis>& grid,
                                      const std::vector<SweepRun>& runs,
                                      const std::vector<SweepRecord>& records) {
  std::int64_t n_points = 1;
  for (const auto& a : grid) n_points *= static_cast<std::int64_t>(a.values.size());
  const std::vector<PointStats> st = point_stats(runs, records, n_points);
  std::vector<std::string> lines;
  for (std::int64_t p = 0; p < n_points; ++p) {
    std::vector<std::string> values;
    for (const auto& run : runs) {
      if (run.point == p) {
        values = run.values;
        break;
      }
    }
    const PointStats& s = st[static_cast<std::size_t>(p)];
    std::string line =
        fmt::format("{}: {}/{} finished", point_label(grid, values), s.n_ok, s.n_runs);
    if (s.n_ok > 0) {
      line += fmt::format(
          ", validation accuracy {:.3f} ± {:.3f} (min {:.3f}, max {:.3f}), loss {:.4f} "
          "(geometric mean; min {:.4f}, max {:.4f})",
          s.acc_mean, s.acc_sd, s.acc_min, s.acc_max, std::pow(10.0, s.log_loss_mean), s.loss_min,
          s.loss_max);
    }
    lines.push_back(line);
  }
  std::map<std::string, int> by_status;
  for (const auto& r : records) {
    if (r.status != RunStatus::kOk) ++by_status[to_string(r.status)];
  }
  for (const auto& [status, n] : by_status) lines.push_back(fmt::format("{} runs {}", n, status));
  return lines;
}

}  // namespace lrnn
