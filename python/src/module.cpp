// lrnn._lrnn: the compiled half of the Python module lrnn (python/lrnn/__init__.py is the other):
// Config, Network (simulate, loss_and_grad, save), trials, train, evaluate and inspect over the
// same C++ library the apps call. The work runs with the GIL released; lrnn's exceptions become
// Python exceptions with the same message (ConfigError and InputError are ValueErrors, IoError a
// FileError, an OSError).
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <numeric>
#include <optional>

#include "convert.hpp"
#include "lrnn/analysis/traces.hpp"
#include "lrnn/config/config.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/io/trials_file.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/task/time_grid.hpp"
#include "lrnn/train/batch_gradient.hpp"
#include "lrnn/train/trainer.hpp"
#include "lrnn/workflows/evaluate.hpp"
#include "lrnn/workflows/inspect.hpp"

namespace lrnn::python {
namespace {

using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------------------------------
// Config

// A YAML scalar as the Python value it reads as: int, float, bool, None or str.
py::object scalar_to_python(const YAML::Node& node) {
  const std::string text = node.Scalar();
  if (node.Tag() == "!") return py::str(text);  // quoted: a string
  if (text == "null" || text == "~" || text.empty()) return py::none();
  if (text == "true") return py::bool_(true);
  if (text == "false") return py::bool_(false);
  try {
    std::size_t used = 0;
    const long long i = std::stoll(text, &used);
    if (used == text.size()) return py::int_(i);
  } catch (const std::exception&) {
  }
  try {
    std::size_t used = 0;
    const double d = std::stod(text, &used);
    if (used == text.size()) return py::float_(d);
  } catch (const std::exception&) {
  }
  return py::str(text);
}

py::object yaml_to_python(const YAML::Node& node) {
  if (node.IsMap()) {
    py::dict d;
    for (const auto& kv : node) d[py::str(kv.first.Scalar())] = yaml_to_python(kv.second);
    return d;
  }
  if (node.IsSequence()) {
    py::list l;
    for (const auto& item : node) l.append(yaml_to_python(item));
    return l;
  }
  if (node.IsScalar()) return scalar_to_python(node);
  return py::none();
}

py::dict config_to_dict(const Config& c) {
  return yaml_to_python(YAML::Load(to_yaml(c))).cast<py::dict>();
}

// ------------------------------------------------------------------------------------------
// Trials in and out

Split parse_split(const std::string& s) {
  if (s == "train") return Split::kTrain;
  if (s == "val" || s == "validation") return Split::kValidation;
  if (s == "test") return Split::kTest;
  throw py::value_error("split = '" + s + "': must be 'train', 'val' or 'test'");
}

// The trials of a dict (u, label, and optional context, coherence, split) or of u alone with
// labels, checked as a trials file is (InputError names `source` and the array).
TrialsFile trials_from_arrays(const py::handle& u_obj, const py::handle& label_obj,
                              const py::handle& context, const py::handle& coherence,
                              const py::handle& split, const TrialsFileOptions& options,
                              const std::string& source, bool keep_float32) {
  TrialArrays a;
  a.source = source;
  py::array u;
  if (keep_float32 && is_float32(u_obj)) {
    auto f = as_float32(u_obj, source + " u");
    u = f;
    require_ndim(u, source + " u", 3, "(trials, K, d_in)");
    a.u_float.assign(f.data(), f.data() + f.size());
  } else {
    auto d = as_float64(u_obj, source + " u");
    u = d;
    require_ndim(u, source + " u", 3, "(trials, K, d_in)");
    a.u_double = to_vector(d);
  }
  a.n_trials = u.shape(0);
  a.K = u.shape(1);
  a.d_in = u.shape(2);
  const auto vec = [&](const py::handle& obj, const std::string& name, py::ssize_t ndim,
                       const std::string& shape) {
    if (obj.is_none()) return std::vector<double>{};
    auto arr = as_float64(obj, source + " " + name);
    require_ndim(arr, source + " " + name, ndim, shape);
    return to_vector(arr);
  };
  a.label = vec(label_obj, "label", 1, "(trials,)");
  a.context = vec(context, "context", 1, "(trials,)");
  a.coherence = vec(coherence, "coherence", 2, "(trials, 2)");
  a.split = vec(split, "split", 1, "(trials,)");
  return TrialsFile::from_arrays(std::move(a), options);
}

py::object dict_get(const py::dict& d, const char* key) {
  return d.contains(key) ? py::reinterpret_borrow<py::object>(d[key]) : py::none();
}

TrialsFile trials_from_dict(const py::dict& d, const TrialsFileOptions& options,
                            const std::string& source) {
  for (const auto& kv : d) {
    const std::string k = py::str(kv.first).cast<std::string>();
    if (k != "u" && k != "label" && k != "context" && k != "coherence" && k != "split") {
      throw py::value_error(source + ": unknown key '" + k +
                            "' (the keys are u, label, context, coherence, split)");
    }
  }
  if (!d.contains("u") || !d.contains("label")) {
    throw py::value_error(source +
                          ": needs the arrays 'u' (trials, K, d_in) and 'label' (trials,)");
  }
  return trials_from_arrays(d["u"], d["label"], dict_get(d, "context"), dict_get(d, "coherence"),
                            dict_get(d, "split"), options, source, true);
}

// A batch (as the generator or a trials file fills it) as NumPy arrays in the trials-file layout.
template <typename Scalar>
py::dict batch_to_numpy(const TrialBatch<Scalar>& b) {
  const Index n = b.n_trials, K = b.n_steps, d = b.d_in;
  py::array_t<Scalar> u({n, K, d});
  auto uv = u.template mutable_unchecked<3>();
  for (Index j = 0; j < n; ++j) {
    for (Index k = 0; k < K; ++k) {
      for (Index c = 0; c < d; ++c) uv(j, k, c) = b.u(c, k * n + j);
    }
  }
  py::array_t<double> label(n);
  py::array_t<std::int32_t> context(n);
  py::array_t<double> coherence({n, Index{2}});
  auto lv = label.mutable_unchecked<1>();
  auto cv = context.mutable_unchecked<1>();
  auto hv = coherence.mutable_unchecked<2>();
  for (Index j = 0; j < n; ++j) {
    lv(j) = static_cast<double>(b.target[j]);
    cv(j) = b.context[static_cast<std::size_t>(j)];
    hv(j, 0) = b.coherence(0, j);
    hv(j, 1) = b.coherence(1, j);
  }
  py::dict out;
  out["u"] = u;
  out["label"] = label;
  out["context"] = context;
  out["coherence"] = coherence;
  return out;
}

py::dict generated_trials(const Config& c, const std::string& split_text,
                          std::optional<std::int64_t> n_opt) {
  const Split split = parse_split(split_text);
  const std::int64_t n = n_opt                         ? *n_opt
                         : split == Split::kTrain      ? c.training.n_train_trials
                         : split == Split::kValidation ? c.training.n_val_trials
                                                       : EvalOptions{}.n_trials;
  if (n < 1) throw py::value_error("n = " + std::to_string(n) + ": must be >= 1");
  const ContextSwitchTask task(c.task, c.integrator.dt, c.training.seed, n, n, n);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), std::int64_t{0});
  // The precision the trainer fills its batches in: float for float32 and bf16.
  if (c.training.precision == Precision::kFloat64) {
    TrialBatch<double> b;
    {
      py::gil_scoped_release release;
      task.fill(split, idx.data(), static_cast<Index>(n), b);
    }
    return batch_to_numpy(b);
  }
  TrialBatch<float> b;
  {
    py::gil_scoped_release release;
    task.fill(split, idx.data(), static_cast<Index>(n), b);
  }
  return batch_to_numpy(b);
}

// ------------------------------------------------------------------------------------------
// Network

Method parse_method(const std::string& s) {
  if (s == "euler") return Method::kEuler;
  if (s == "rk45") return Method::kRk45;
  if (s == "tsit5") return Method::kTsit5;
  throw py::value_error("integrator = '" + s + "': must be 'euler', 'rk45' or 'tsit5'");
}

Precision parse_precision(const std::string& s) {
  if (s == "float32") return Precision::kFloat32;
  if (s == "float64") return Precision::kFloat64;
  if (s == "bf16") return Precision::kBf16;
  throw py::value_error("precision = '" + s + "': must be 'float32', 'float64' or 'bf16'");
}

// A network with the config it runs under (task window, integrator, label type) and the
// precision it computes in. theta and C are held in double; the float copy is made when the
// parameters change, not per call.
class PyNetwork {
 public:
  PyNetwork(Network<double> net, Config config, Precision precision)
      : net_(std::move(net)), config_(std::move(config)), precision_(precision) {
    sync();
  }

  static PyNetwork from_checkpoint(const std::string& path) {
    LoadedCheckpoint<double> ck = load_checkpoint<double>(path);
    Config c = stored_config(ck.info.meta, path);
    return PyNetwork(std::move(ck.net), std::move(c), ck.info.meta.precision);
  }

  static PyNetwork from_arrays(const py::handle& M, const py::handle& n, const py::handle& B,
                               const py::handle& w, double b, const py::handle& C, double g,
                               double tau, std::optional<Config> config,
                               const std::string& precision) {
    const auto Ma = checked(M, "M", 2, "(N, R)");
    const Index N = Ma.shape(0), R = Ma.shape(1);
    const auto Ba = checked(B, "B", 2, "(N, d_in)");
    const Index d_in = Ba.shape(1);
    Config c = config ? *config : Config{};
    c.rnn.N = static_cast<int>(N);
    c.rnn.R = static_cast<int>(R);
    c.rnn.d_in = static_cast<int>(d_in);
    c.rnn.g = g;
    c.rnn.tau = tau;
    validate(c);
    Network<double> net;
    net.theta = Params<double>(Dims{N, R, d_in});
    net.g = g;
    net.tau = tau;
    net.noise_std = c.rnn.noise_std;
    net.noise_seed = c.training.seed;
    PyNetwork p(std::move(net), std::move(c), parse_precision(precision));
    p.set_group(Group::kM, Ma);
    p.set_group(Group::kN, n);
    p.set_group(Group::kB, Ba);
    p.set_group(Group::kW, w);
    p.set_b(b);
    p.set_C(C);
    return p;
  }

  py::array_t<double> group(Group g) const {
    const auto m = net_.theta.group(g);
    if (g == Group::kW) {
      py::array_t<double> out(m.rows());
      for (Index i = 0; i < m.rows(); ++i) out.mutable_at(i) = m(i, 0);
      return out;
    }
    return to_numpy<double>(m);
  }
  double b() const { return net_.theta.b(); }
  py::array_t<double> C() const { return to_numpy<double>(net_.C); }

  void set_group(Group g, const py::handle& value) {
    const std::string name(group_name(g));
    const Dims& d = net_.dims();
    if (g == Group::kW) {
      const auto a = checked(value, name, 1, "(N,)");
      if (a.shape(0) != d.N) shape_error(name, a, "(" + std::to_string(d.N) + ",)");
      net_.theta.w() = Eigen::Map<const VecX<double>>(a.data(), d.N);
    } else {
      const auto a = checked(value, name, 2, g == Group::kB ? "(N, d_in)" : "(N, R)");
      const auto want = net_.theta.group(g);
      if (a.shape(0) != want.rows() || a.shape(1) != want.cols()) {
        shape_error(name, a,
                    "(" + std::to_string(want.rows()) + ", " + std::to_string(want.cols()) + ")");
      }
      net_.theta.group(g) = to_matrix(a);
    }
    sync();
  }
  void set_b(double b) {
    if (!std::isfinite(b)) throw py::value_error("b is not finite");
    net_.theta.b() = b;
    sync();
  }
  void set_C(const py::handle& value) {
    const auto a = checked(value, "C", 2, "(N, N)");
    const Index N = net_.dims().N;
    if (a.shape(0) != N || a.shape(1) != N) {
      shape_error("C", a, "(" + std::to_string(N) + ", " + std::to_string(N) + ")");
    }
    net_.C = to_matrix(a);
    sync();
  }

  const Config& config() const { return config_; }
  void set_config(const Config& c) {
    if (c.rnn.N != net_.dims().N || c.rnn.R != net_.dims().R || c.rnn.d_in != net_.dims().d_in) {
      throw ConfigError("the config's rnn.N, rnn.R, rnn.d_in (" + std::to_string(c.rnn.N) + ", " +
                        std::to_string(c.rnn.R) + ", " + std::to_string(c.rnn.d_in) +
                        ") must be the network's");
    }
    config_ = c;
    net_.g = c.rnn.g;
    net_.tau = c.rnn.tau;
    net_.noise_std = c.rnn.noise_std;
    net_.noise_seed = c.training.seed;
    sync();
  }
  std::string precision() const { return to_string(precision_); }
  void set_precision(const std::string& p) { precision_ = parse_precision(p); }
  Dims dims() const { return net_.dims(); }
  double last_call_s() const { return last_call_s_; }

  py::dict simulate(const py::handle& u, std::optional<std::string> integrator,
                    std::optional<double> dt, std::optional<double> noise,
                    const std::vector<std::string>& record, int threads) {
    bool want_y = false, want_kappa = false, want_x = false;
    for (const auto& r : record) {
      if (r == "y") {
        want_y = true;
      } else if (r == "kappa") {
        want_kappa = true;
      } else if (r == "x") {
        want_x = true;
      } else {
        throw py::value_error("record: '" + r + "' is not one of 'y', 'kappa', 'x'");
      }
    }
    Config c = run_config(integrator, dt, noise);
    TrialsFile source = input_trials(u, py::none(), "u");
    const Index count = static_cast<Index>(source.n_trials());
    TrialTraces traces;
    {
      py::gil_scoped_release release;
      const auto t0 = Clock::now();
      const TimeGrid grid = make_time_grid(source.n_steps(), c.integrator.dt, c.task.T_avg);
      std::vector<std::int64_t> idx(static_cast<std::size_t>(count));
      std::iota(idx.begin(), idx.end(), std::int64_t{0});
      const int n_threads = resolve_threads(threads);
      traces = use_double() ? record_traces(noisy(net_, c), source, Split::kTest, idx.data(), count,
                                            c.integrator, grid, n_threads, {}, want_x)
                            : record_traces(noisy(net32_, c), source, Split::kTest, idx.data(),
                                            count, c.integrator, grid, n_threads, {}, want_x);
      last_call_s_ = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    return traces_to_numpy(traces, want_y, want_kappa, want_x, net_.dims().N);
  }

  py::tuple loss_and_grad(const py::handle& u, const py::handle& labels,
                          std::optional<std::string> integrator,
                          std::optional<std::string> gradient, std::optional<double> dt,
                          int threads) {
    Config c = run_config(integrator, dt, std::nullopt);
    if (gradient) {
      if (*gradient == "bptt") {
        c.integrator.gradient = GradientKind::kBptt;
      } else if (*gradient == "adjoint") {
        c.integrator.gradient = GradientKind::kAdjoint;
      } else {
        throw py::value_error("gradient = '" + *gradient + "': must be 'bptt' or 'adjoint'");
      }
    }
    TrialsFile source = input_trials(u, labels, "u");
    double loss = 0.0;
    VecX<double> flat;
    {
      py::gil_scoped_release release;
      if (use_double()) {
        loss = gradient_of(net_, source, c, threads, flat);
      } else {
        loss = gradient_of(net32_, source, c, threads, flat);
      }
    }
    Params<double> grad(net_.dims());
    grad.flat() = flat;
    py::dict g;
    for (const Group group : kAllGroups) {
      const std::string name(group_name(group));
      if (group == Group::kBias) {
        g[py::str(name)] = grad.b();
      } else if (group == Group::kW) {
        py::array_t<double> out(grad.w().size());
        for (Index i = 0; i < grad.w().size(); ++i) out.mutable_at(i) = grad.w()[i];
        g[py::str(name)] = out;
      } else {
        g[py::str(name)] = to_numpy<double>(grad.group(group));
      }
    }
    return py::make_tuple(loss, g);
  }

  void save(const std::string& path) const {
    CheckpointMeta meta;
    meta.seed = config_.training.seed;
    meta.precision = precision_;
    Config c = config_;
    c.training.precision = precision_;
    meta.config_yaml = to_yaml(c);
    py::gil_scoped_release release;
    if (use_double()) {
      save_checkpoint(path, net_, AdamState<double>(net_.theta.layout().total()), meta);
    } else {
      save_checkpoint(path, net32_, AdamState<float>(net_.theta.layout().total()), meta);
    }
  }

 private:
  static py::array_t<double, py::array::c_style> checked(const py::handle& obj,
                                                         const std::string& name, py::ssize_t ndim,
                                                         const std::string& shape) {
    auto a = as_float64(obj, name);
    require_ndim(a, name, ndim, shape);
    require_finite(a, name);
    return a;
  }
  [[noreturn]] static void shape_error(const std::string& name, const py::array& a,
                                       const std::string& want) {
    require_ndim(a, name, -1, want);  // throws, naming a's shape
    throw py::value_error(name);
  }

  bool use_double() const { return precision_ == Precision::kFloat64; }
  void sync() { net32_ = net_.cast<float>(); }

  // The network's config with a call's overrides, checked.
  Config run_config(const std::optional<std::string>& integrator, std::optional<double> dt,
                    std::optional<double> noise) const {
    Config c = config_;
    if (integrator) c.integrator.method = parse_method(*integrator);
    if (dt) c.integrator.dt = *dt;
    if (noise) c.rnn.noise_std = *noise;
    if (!(c.integrator.dt > 0.0))
      throw ConfigError("dt = " + std::to_string(c.integrator.dt) + ": must be > 0");
    if (!(c.rnn.noise_std >= 0.0)) throw ConfigError("noise: must be >= 0");
    if (c.rnn.noise_std > 0.0 && c.integrator.method != Method::kEuler) {
      throw ConfigError("noise = " + std::to_string(c.rnn.noise_std) +
                        ": recurrent noise needs integrator 'euler'");
    }
    return c;
  }

  template <typename Scalar>
  static Network<Scalar> noisy(const Network<Scalar>& net, const Config& c) {
    Network<Scalar> out = net;
    out.noise_std = c.rnn.noise_std;
    out.noise_seed = c.training.seed;
    return out;
  }

  // u (and labels, or +1 for every trial) as a trial source, checked against the network.
  TrialsFile input_trials(const py::handle& u, const py::handle& labels,
                          const std::string& name) const {
    py::object label_obj = py::reinterpret_borrow<py::object>(labels);
    TrialsFileOptions options{config_.task.label_type, 0};
    if (labels.is_none()) {
      const py::array a = real_array(u, name);
      require_ndim(a, name, 3, "(trials, K, d_in)");
      py::array_t<double> ones(a.shape(0));
      auto lv = ones.mutable_unchecked<1>();
      for (py::ssize_t j = 0; j < a.shape(0); ++j) lv(j) = 1.0;
      label_obj = ones;
    }
    TrialsFile t = trials_from_arrays(u, label_obj, py::none(), py::none(), py::none(), options,
                                      name, !use_double());
    if (t.d_in() != net_.dims().d_in) {
      throw py::value_error(name + " has " + std::to_string(t.d_in()) +
                            " input channels (its last axis) but the network has d_in = " +
                            std::to_string(net_.dims().d_in));
    }
    return t;
  }

  template <typename Scalar>
  double gradient_of(const Network<Scalar>& net, const TrialsFile& source, const Config& c,
                     int threads, VecX<double>& flat) {
    const auto t0 = Clock::now();
    const TimeGrid grid = make_time_grid(source.n_steps(), c.integrator.dt, c.task.T_avg);
    BatchGradient<Scalar> bg(c.integrator, grid, c.task.label_type, resolve_threads(threads));
    if (precision_ == Precision::kBf16) bg.set_bulk_mode(BulkMode::kBf16);
    const Index count = static_cast<Index>(source.n_trials());
    std::vector<std::int64_t> idx(static_cast<std::size_t>(count));
    std::iota(idx.begin(), idx.end(), std::int64_t{0});
    Params<Scalar> grad(net.dims());
    const auto r = bg.loss_and_gradient(noisy(net, c), source, Split::kTest, idx.data(), count,
                                        static_cast<double>(count), grad);
    flat = grad.flat().template cast<double>();
    last_call_s_ = std::chrono::duration<double>(Clock::now() - t0).count();
    return r.loss;
  }

  static py::dict traces_to_numpy(const TrialTraces& t, bool y, bool kappa, bool x, Index N) {
    const Index n = t.n_trials(), K = t.n_obs(), R = t.rank();
    py::dict out;
    py::array_t<double> times(K);
    std::copy(t.t.begin(), t.t.end(), times.mutable_data());
    out["t"] = times;
    py::array_t<double> y_bar(n);
    std::copy(t.y_bar.data(), t.y_bar.data() + n, y_bar.mutable_data());
    out["y_bar"] = y_bar;
    if (y) out["y"] = to_numpy<double>(t.y);
    if (kappa) {
      py::array_t<double> k({n, K, R});
      auto kv = k.mutable_unchecked<3>();
      for (Index r = 0; r < R; ++r) {
        const MatX<double>& m = t.kappa[static_cast<std::size_t>(r)];
        for (Index j = 0; j < n; ++j) {
          for (Index s = 0; s < K; ++s) kv(j, s, r) = m(j, s);
        }
      }
      out["kappa"] = k;
    }
    if (x) {
      py::array_t<double> xs({n, K, N});
      std::copy(t.x.begin(), t.x.end(), xs.mutable_data());
      out["x"] = xs;
    }
    return out;
  }

  Network<double> net_;
  Network<float> net32_;
  Config config_;
  Precision precision_;
  double last_call_s_ = 0.0;
};

// ------------------------------------------------------------------------------------------
// train

const char* status_name(TrainStatus s) {
  switch (s) {
    case TrainStatus::kCompleted:
      return "completed";
    case TrainStatus::kStoppedEarly:
      return "stopped_early";
    case TrainStatus::kInterrupted:
      return "interrupted";
  }
  return "?";
}

// While lrnn.train runs, SIGINT does what it does to lrnn-train: the stop flag cancels the step
// under way (within a time step, not at the next step's callback), the trainer writes its
// checkpoint, and train() then raises KeyboardInterrupt. Python's own handler only sets a flag
// that the interpreter reads when it runs, and it does not run while the GIL is released.
// Installed only from the main thread and when SIGINT is not ignored; the previous handler is
// put back on the way out.
static_assert(std::atomic<bool>::is_always_lock_free, "the SIGINT handler stores to it");

class SigintStopsTheRun {
 public:
  explicit SigintStopsTheRun(std::atomic<bool>* stop) {
    if (PyThreadState_Get() == nullptr || !is_main_thread()) return;
    struct sigaction now {};
    if (sigaction(SIGINT, nullptr, &previous_) != 0 || previous_.sa_handler == SIG_IGN) return;
    stop_flag() = stop;
    received_flag() = 0;
    now.sa_handler = &SigintStopsTheRun::handle;
    sigemptyset(&now.sa_mask);
    installed_ = sigaction(SIGINT, &now, nullptr) == 0;
  }
  ~SigintStopsTheRun() {
    if (!installed_) return;
    sigaction(SIGINT, &previous_, nullptr);
    stop_flag() = nullptr;
  }
  SigintStopsTheRun(const SigintStopsTheRun&) = delete;
  SigintStopsTheRun& operator=(const SigintStopsTheRun&) = delete;
  bool received() const { return installed_ && received_flag() != 0; }

 private:
  static bool is_main_thread() {
    const py::object threading = py::module_::import("threading");
    return threading.attr("current_thread")().is(threading.attr("main_thread")());
  }
  static std::atomic<bool>*& stop_flag() {
    static std::atomic<bool>* flag = nullptr;
    return flag;
  }
  static volatile std::sig_atomic_t& received_flag() {
    static volatile std::sig_atomic_t flag = 0;
    return flag;
  }
  static void handle(int) {
    received_flag() = 1;
    if (std::atomic<bool>* f = stop_flag()) f->store(true);
  }

  struct sigaction previous_ {};
  bool installed_ = false;
};

py::dict step_metrics(const StepReport& r) {
  py::dict m;
  m["step"] = r.step;
  m["total_steps"] = r.total_steps;
  m["loss"] = r.loss;
  m["accuracy"] = r.accuracy;
  m["grad_norm"] = r.grad_norm;
  m["lr"] = r.learning_rate;
  m["step_time_s"] = r.step_time_s;
  m["elapsed_s"] = r.elapsed_s;
  if (r.has_validation) {
    m["val_loss"] = r.validation.loss;
    m["val_accuracy"] = r.validation.accuracy;
    m["val_accuracy_ctx1"] = r.validation.accuracy_ctx[0];
    m["val_accuracy_ctx2"] = r.validation.accuracy_ctx[1];
  }
  return m;
}

py::dict train(const Config& config_in, std::optional<std::string> out,
               std::optional<std::string> resume, std::optional<int> threads,
               const py::object& callback, const py::object& trials, bool overwrite,
               const py::object& stop_value) {
  Config config = config_in;
  if (out) {
    if (out->empty()) throw ConfigError("out: the run directory must not be empty");
    config.output.dir = *out;
  }
  std::optional<TrialsFile> source;
  if (!trials.is_none()) {
    if (!py::isinstance<py::dict>(trials)) {
      throw py::type_error(
          "trials: expected a dict of NumPy arrays (u, label, and optionally "
          "context, coherence, split)");
    }
    source = trials_from_dict(
        trials.cast<py::dict>(),
        TrialsFileOptions{config.task.label_type, config.training.n_val_trials}, "trials");
  }
  const RunDirMode mode = resume      ? RunDirMode::kResume
                          : overwrite ? RunDirMode::kOverwrite
                                      : RunDirMode::kNew;
  const RunDir dir = prepare_run_dir(config.output.dir, mode);

  std::atomic<bool> stop{false};
  std::optional<py::error_already_set> raised;  // from the callback, or KeyboardInterrupt
  TrainRunOptions options;
  options.resume = resume.value_or("");
  options.threads = threads.value_or(0);
  options.stop_requested = &stop;
  if (source) options.trials = &*source;
  options.on_step = [&](const StepReport& r) {
    py::gil_scoped_acquire acquire;
    if (raised) return;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!callback.is_none()) {
        const py::object result = callback(r.step, step_metrics(r));
        if (result.is(stop_value) || (py::isinstance<py::bool_>(result) && result.cast<bool>())) {
          stop = true;
        }
      }
    } catch (py::error_already_set& e) {
      raised = std::move(e);
      stop = true;
    }
  };
  TrainSummary s;
  {
    const SigintStopsTheRun sigint(&stop);
    {
      py::gil_scoped_release release;
      s = lrnn::train(config, dir, options);
    }
    if (sigint.received() && !raised) {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
      raised.emplace();
    }
  }
  if (raised) {
    raised->restore();
    throw py::error_already_set();
  }
  py::dict d;
  d["status"] = status_name(s.status);
  d["message"] = s.message;
  d["run_dir"] = dir.root;
  d["steps_done"] = s.steps_done;
  d["total_steps"] = s.total_steps;
  d["wall_time_s"] = s.wall_time_s;
  d["step_time_s"] = s.step_time_s;
  py::dict v;
  v["loss"] = s.final_validation.loss;
  v["accuracy"] = s.final_validation.accuracy;
  v["accuracy_ctx1"] = s.final_validation.accuracy_ctx[0];
  v["accuracy_ctx2"] = s.final_validation.accuracy_ctx[1];
  d["final_validation"] = v;
  d["best_val_loss"] = s.best_val_loss;
  d["best_step"] = s.best_step;
  d["nan_skips"] = s.nan_skips;
  d["last_checkpoint"] = s.last_checkpoint;
  return d;
}

// ------------------------------------------------------------------------------------------
// evaluate, inspect

py::dict evaluate(const std::string& checkpoint, const std::string& out, std::int64_t n_trials,
                  std::optional<std::string> integrator, const std::vector<double>& coherences,
                  std::optional<double> noise_std, std::optional<double> input_noise_std,
                  std::optional<double> stim_std, const std::string& trials_file, int threads,
                  bool figures) {
  EvalOptions o;
  o.n_trials = n_trials;
  if (integrator) o.integrator = parse_method(*integrator);
  o.coherences = coherences;
  o.noise_std = noise_std;
  o.input_noise_std = input_noise_std;
  o.stim_std = stim_std;
  o.trials_file = trials_file;
  o.out_dir = out;
  o.threads = threads;
  o.figures = figures;
  EvalSummary s;
  {
    py::gil_scoped_release release;
    s = evaluate_checkpoint(checkpoint, o);
  }
  py::dict d;
  d["metrics_json"] = s.metrics_json;
  d["files"] = s.files;
  d["simulate_s"] = s.simulate_s;
  return d;
}

std::string inspect(const std::string& checkpoint, int resample, std::int64_t trials, int threads,
                    std::uint64_t seed, bool eigs, bool fixed_points, int truncate,
                    const std::string& populations, const std::string& out) {
  InspectOptions o;
  o.resample = resample;
  o.trials = trials;
  o.threads = threads;
  o.seed = seed;
  o.eigs = eigs;
  o.dynamics.fixed_points = fixed_points;
  o.dynamics.truncate = truncate;
  o.dynamics.populations = populations;
  o.dynamics.out_dir = out;
  py::gil_scoped_release release;
  const LoadedCheckpoint<double> ck = load_checkpoint<double>(checkpoint);
  Config config;
  if (inspect_needs_config(o)) config = stored_config(ck.info.meta, checkpoint);
  return inspection_json(checkpoint, ck.info, inspect_checkpoint(checkpoint, ck, config, o));
}

// ------------------------------------------------------------------------------------------

void register_errors(py::module_& m) {
  static py::exception<ConfigError> config_error(m, "ConfigError", PyExc_ValueError);
  static py::exception<InputError> input_error(m, "InputError", PyExc_ValueError);
  static py::exception<IoError> file_error(m, "FileError", PyExc_OSError);
  static py::exception<NumericalError> numerical_error(m, "NumericalError", PyExc_ArithmeticError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ConfigError& e) {
      PyErr_SetString(config_error.ptr(), e.what());
    } catch (const InputError& e) {
      PyErr_SetString(input_error.ptr(), e.what());
    } catch (const IoError& e) {
      PyErr_SetString(file_error.ptr(), e.what());
    } catch (const NumericalError& e) {
      PyErr_SetString(numerical_error.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
}

void register_config(py::module_& m) {
  py::class_<Config>(m, "Config",
                     "A run configuration (sections rnn, task, integrator, training, output), "
                     "checked as lrnn-train checks it. Make one with from_file, from_yaml or "
                     "from_dict; overrides are 'key.path=value' strings as for --set.")
      .def_static(
          "from_file",
          [](const std::string& path, const std::vector<std::string>& set) {
            return load_config(path, set);
          },
          py::arg("path"), py::arg("set") = std::vector<std::string>{},
          "A YAML config file with overrides. ConfigError names key path, value, rule, file:line.")
      .def_static(
          "from_yaml",
          [](const std::string& text, const std::vector<std::string>& set,
             const std::string& source) { return parse_config(text, source, set); },
          py::arg("text"), py::arg("set") = std::vector<std::string>{},
          py::arg("source") = "<string>", "A config from YAML text; `source` names it in errors.")
      .def_static(
          "from_dict",
          [](const py::dict& d, const std::vector<std::string>& set) {
            // JSON is YAML: the dict's keys and values go through the same parser and checks.
            const auto text = py::module_::import("json").attr("dumps")(d).cast<std::string>();
            return parse_config(text, "<dict>", set);
          },
          py::arg("d"), py::arg("set") = std::vector<std::string>{},
          "A config from a nested dict such as to_dict() returns.")
      .def(
          "with_overrides",
          [](const Config& c, const std::vector<std::string>& set) {
            return parse_config(to_yaml(c), "<resolved config>", set);
          },
          py::arg("set"), "A new config: this one with the overrides applied and checked.")
      .def(
          "to_yaml", [](const Config& c) { return to_yaml(c); },
          "The resolved config as YAML, every key written (what a run's config.yaml holds).")
      .def("to_dict", &config_to_dict, "The resolved config as a nested dict, every key.")
      .def_readonly("source", &Config::source)
      .def("__repr__", [](const Config& c) {
        return "<lrnn.Config from " + (c.source.empty() ? std::string("defaults") : c.source) + ">";
      });
}

void register_network(py::module_& m) {
  py::class_<PyNetwork>(m, "Network",
                        "A low-rank network tau dx/dt = -x + (g C + M n^T/N) tanh(x) + B u, "
                        "y = w^T tanh(x)/N + b, with the config it runs under (task window, "
                        "integrator, label type) and its precision. Parameters are float64 "
                        "copies; assign to change them.")
      .def_static("from_checkpoint", &PyNetwork::from_checkpoint, py::arg("path"),
                  "The network of a checkpoint, with its config and precision. FileError names "
                  "a missing, corrupt or bit-flipped file.")
      .def_static("from_arrays", &PyNetwork::from_arrays, py::arg("M"), py::arg("n"), py::arg("B"),
                  py::arg("w"), py::arg("b"), py::arg("C"), py::arg("g"), py::arg("tau"),
                  py::arg("config") = py::none(), py::arg("precision") = "float32",
                  "A network from arrays M (N, R), n (N, R), B (N, d_in), w (N,), C (N, N) and "
                  "numbers b, g, tau. `config` (default: the defaults) gives the task window, "
                  "integrator and label type; its rnn.N, R, d_in, g, tau are set from the arrays.")
      .def_property(
          "M", [](const PyNetwork& p) { return p.group(Group::kM); },
          [](PyNetwork& p, const py::object& v) { p.set_group(Group::kM, v); })
      .def_property(
          "n", [](const PyNetwork& p) { return p.group(Group::kN); },
          [](PyNetwork& p, const py::object& v) { p.set_group(Group::kN, v); })
      .def_property(
          "B", [](const PyNetwork& p) { return p.group(Group::kB); },
          [](PyNetwork& p, const py::object& v) { p.set_group(Group::kB, v); })
      .def_property(
          "w", [](const PyNetwork& p) { return p.group(Group::kW); },
          [](PyNetwork& p, const py::object& v) { p.set_group(Group::kW, v); })
      .def_property("b", &PyNetwork::b, &PyNetwork::set_b)
      .def_property("C", &PyNetwork::C, [](PyNetwork& p, const py::object& v) { p.set_C(v); })
      .def_property("config", &PyNetwork::config, &PyNetwork::set_config)
      .def_property("precision", &PyNetwork::precision, &PyNetwork::set_precision)
      .def_property_readonly("N", [](const PyNetwork& p) { return p.dims().N; })
      .def_property_readonly("R", [](const PyNetwork& p) { return p.dims().R; })
      .def_property_readonly("d_in", [](const PyNetwork& p) { return p.dims().d_in; })
      .def_property_readonly("g", [](const PyNetwork& p) { return p.config().rnn.g; })
      .def_property_readonly("tau", [](const PyNetwork& p) { return p.config().rnn.tau; })
      .def_property_readonly("last_call_s", &PyNetwork::last_call_s,
                             "Wall seconds of the C++ work of the last simulate or loss_and_grad.")
      .def("simulate", &PyNetwork::simulate, py::arg("u"), py::arg("integrator") = py::none(),
           py::arg("dt") = py::none(), py::arg("noise") = py::none(),
           py::arg("record") = std::vector<std::string>{"y", "kappa"}, py::arg("threads") = 0,
           "Simulates the batch u (trials, K, d_in) from x(0) = 0 on the grid of dt (default "
           "integrator.dt) with `integrator` (euler, rk45, tsit5; default the config's) and "
           "recurrent noise sigma `noise` (euler; default rnn.noise_std). Returns a dict of new "
           "float64 arrays: t (K,), y_bar (trials,) and, as recorded, y (trials, K), kappa "
           "(trials, K, R), x (trials, K, N) at t_1 .. t_K. threads 0: all cores.")
      .def("loss_and_grad", &PyNetwork::loss_and_grad, py::arg("u"), py::arg("labels"),
           py::arg("integrator") = py::none(), py::arg("gradient") = py::none(),
           py::arg("dt") = py::none(), py::arg("threads") = 0,
           "The mean window loss over the batch u (trials, K, d_in) with labels (trials,) "
           "(+-1 for pm1, 0/1 for binary) and its gradient: (loss, {M, n, B, w: arrays, b: "
           "float}). BPTT for euler; gradient 'bptt' or 'adjoint' for rk45 and tsit5. No "
           "weight decay, no clipping.")
      .def("save", &PyNetwork::save, py::arg("path"),
           "Writes a checkpoint (step 0, zero Adam moments) that lrnn-eval and lrnn-inspect "
           "read; atomic.");
}

}  // namespace
}  // namespace lrnn::python

PYBIND11_MODULE(_lrnn, m) {
  namespace lp = lrnn::python;
  namespace py = pybind11;
  m.doc() = "The compiled core of lrnn; use the package lrnn, which documents it.";
  // The library's log lines (training progress, validations, notes on old checkpoints) go to
  // stderr, as the apps' do, so that stdout stays the user's.
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("lrnn", std::make_shared<spdlog::sinks::stderr_sink_mt>()));
  m.def(
      "set_log_level",
      [](const std::string& level) {
        const auto l = spdlog::level::from_str(level);
        if (l == spdlog::level::off && level != "off") {
          throw py::value_error("level = '" + level +
                                "': must be trace, debug, info, warning, error, critical or off");
        }
        spdlog::set_level(l);
      },
      py::arg("level"));
  lp::register_errors(m);
  lp::register_config(m);
  lp::register_network(m);
  m.def("trials", &lp::generated_trials, py::arg("config"), py::arg("split") = "test",
        py::arg("n") = py::none());
  m.def("train", &lp::train, py::arg("config"), py::arg("out") = py::none(),
        py::arg("resume") = py::none(), py::arg("threads") = py::none(),
        py::arg("callback") = py::none(), py::arg("trials") = py::none(),
        py::arg("overwrite") = false, py::arg("stop_value") = py::none());
  m.def("evaluate", &lp::evaluate, py::arg("checkpoint"), py::arg("out"), py::arg("trials"),
        py::arg("integrator"), py::arg("coherences"), py::arg("noise_std"),
        py::arg("input_noise_std"), py::arg("stim_std"), py::arg("trials_file"), py::arg("threads"),
        py::arg("figures"));
  m.def("inspect", &lp::inspect, py::arg("checkpoint"), py::arg("resample"), py::arg("trials"),
        py::arg("threads"), py::arg("seed"), py::arg("eigs"), py::arg("fixed_points"),
        py::arg("truncate"), py::arg("populations"), py::arg("out"));
}
