// The benchmark suite (Google Benchmark): one training step of the default config as the trainer
// takes it (BatchGradient::loss_and_gradient over a batch of 32, global-norm clip, Adam), the
// forward pass alone, one rk45 + continuous-adjoint step, and, in the same binary and run, the
// reference products of the machine: C (500 x 500) times a block of trials, and a large square
// GEMM. Every step figure is then printed as a ratio to the GEMM rate measured in the same run, so
// that figures taken on different machines compare.
//
// Bulk flops: the only O(N²) work of an Euler step is C phi forward and Cᵀ a backward, 2 N² B
// flops each per time step, so a training step counts 4 N² B K and a forward pass 2 N² B K
// (K = T / dt, B = 32 trials). An rk45 step counts 2 N² B per right-hand side (forward, including
// the adjoint's recomputation) and per vector-Jacobian product (backward), from the solver's
// counts of its busiest block.
//
//   build/benchmarks/lrnn-bench [--smoke | --quick] [--benchmark_filter=REGEX]
//       [--benchmark_min_time=SECONDS] [--benchmark_repetitions=N]
//       [--benchmark_out=FILE --benchmark_out_format=json] ...
//
// --smoke runs every benchmark once on tiny sizes (CI); --quick only the default-config figures.
// Benchmarks run in real (wall) time: the work is spread over OpenMP threads.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#ifdef LRNN_BENCH_OPENBLAS
#include <cblas.h>
#endif

#include "integrate/bf16_gemm.hpp"
#include "integrate/bulk_product.hpp"
#include "integrate/onednn_matmul.hpp"
#include "lrnn/config/config.hpp"
#include "lrnn/integrate/gradient_method.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/optim/adam.hpp"
#include "lrnn/optim/optimizer_step.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/batch_gradient.hpp"
#include "lrnn/train/trainer.hpp"

namespace {

using lrnn::Index;
using lrnn::Method;
using lrnn::Precision;

// ---------------------------------------------------------------------------------------------
// What is measured

enum class Kind { kTrainStep, kForward, kGemmBlock, kGemmSquare };

/// How a reference product of C times a block is computed.
enum class Backend {
  kEigen,     ///< Eigen's product (packs C on every call)
  kOpenBlas,  ///< OpenBLAS's cblas_?gemm (LRNN_BENCH_OPENBLAS)
  /// lrnn's BulkProduct on its packed Eigen kernel (LRNN_F32_EIGEN=1 while it runs): C packed
  /// once. For steps: the float32 step on that kernel (".../kernel:eigen").
  kPacked,
  kOneDnn,  ///< lrnn's BulkProduct on oneDNN's float32 matmul, where lrnn chooses it
  kBf16,    ///< lrnn's Bf16Gemm: the bf16 solver's path (oneDNN or the fallback)
};

/// One benchmark: what it runs and at which size. The name is built from it.
struct Spec {
  Kind kind = Kind::kTrainStep;
  Method method = Method::kEuler;  ///< euler (bptt) or rk45 (continuous adjoint)
  Precision precision = Precision::kFloat32;
  int N = 500;            ///< units (GEMMs: rows and depth of C, or n of the square product)
  int T = 100;            ///< trial length (model time units); task.T_stim = T - task.T_burn
  int cols = 0;           ///< columns of the block (Gemm/CxBlock only)
  int threads = 1;        ///< OpenMP threads of BatchGradient, or Eigen::setNbThreads for GEMMs
  bool openblas = false;  ///< GEMMs: OpenBLAS's cblas_?gemm instead of Eigen (LRNN_BENCH_OPENBLAS)
  Backend backend = Backend::kEigen;  ///< Gemm/CxBlock: whose product (openblas implies kOpenBlas)
  bool noise = true;  ///< steps: the config's recurrent noise (rnn.noise_std); false sets it to 0

  bool operator==(const Spec&) const = default;

  bool is_step() const { return kind == Kind::kTrainStep || kind == Kind::kForward; }
  const char* precision_name() const {
    return precision == Precision::kFloat32 ? "f32"
           : precision == Precision::kBf16  ? "bf16"
                                            : "f64";
  }
  const char* method_name() const {
    return method == Method::kEuler   ? "euler"
           : method == Method::kTsit5 ? "tsit5_adjoint"
                                      : "rk45_adjoint";
  }
  const char* backend_name() const {
    switch (openblas ? Backend::kOpenBlas : backend) {
      case Backend::kOpenBlas:
        return "/openblas";
      case Backend::kPacked:
        return "/packed";
      case Backend::kOneDnn:
        return "/onednn";
      case Backend::kBf16:
      case Backend::kEigen:
        break;
    }
    return "";
  }

  std::string name() const {
    char buf[160];
    switch (kind) {
      case Kind::kTrainStep:
      case Kind::kForward:
        std::snprintf(buf, sizeof buf, "%s/%s/%s/N:%d/T:%d/threads:%d%s%s",
                      kind == Kind::kTrainStep ? "TrainStep" : "Forward", method_name(),
                      precision_name(), N, T, threads, noise ? "" : "/noise:0",
                      backend == Backend::kPacked ? "/kernel:eigen" : "");
        break;
      case Kind::kGemmBlock:
        std::snprintf(buf, sizeof buf, "Gemm/CxBlock/%s%s/N:%d/cols:%d/threads:%d",
                      precision_name(), backend_name(), N, cols, threads);
        break;
      case Kind::kGemmSquare:
        std::snprintf(buf, sizeof buf, "Gemm/Square/%s%s/n:%d/threads:%d", precision_name(),
                      openblas ? "/openblas" : "", N, threads);
        break;
    }
    return buf;
  }
};

/// The sizes of a run: the full suite, or tiny ones for the CI smoke test.
struct Sizes {
  int N = 500;  ///< the default config's N
  int T = 100;  ///< the default config's T_burn + T_stim
  std::vector<int> N_sweep = {250, 500, 1000, 2000};
  std::vector<int> T_sweep = {50, 100, 200};
  int block_N = 500;  ///< C of Gemm/CxBlock
  int square_n = 2000;
  std::vector<int> crossover_N = {32,  64,  100, 128,
                                  160, 200, 500, 1000};  ///< the float32 kernels' sweep

  static Sizes smoke() {
    // T = 25 is the shortest trial whose stimulus period (T - T_burn) still holds the T_avg = 10
    // loss window of the default task. N = 128: above oneDNN's float32 crossover (N >= 100 for
    // blocks of 16), so that both float32 kernels run where the CPU has AVX-512.
    return Sizes{128, 30, {32, 64}, {25, 30}, 128, 256, {64, 128}};
  }
};

std::string config_path(Method method) {
  return std::string(LRNN_SOURCE_DIR) +
         (method == Method::kEuler ? "/configs/default.yaml" : "/configs/rk45.yaml");
}

// ---------------------------------------------------------------------------------------------
// Memory

bool g_rss_resets = true;  ///< false once resetting the high-water mark failed

/// Starts a new peak-RSS window: hands the heap freed by earlier benchmarks back to the system
/// (glibc keeps it otherwise, and it would count towards the next benchmark's figure), then resets
/// the high-water mark that getrusage reports, which Linux does when 5 is written to
/// /proc/self/clear_refs. Where that fails, peak_RSS_MB is the process's peak so far.
void reset_peak_rss() {
  malloc_trim(0);
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  if (!f) g_rss_resets = false;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) * 1024.0 / 1e6;  // ru_maxrss is in KiB
}

// ---------------------------------------------------------------------------------------------
// Counters

using benchmark::Counter;

/// The counters every benchmark reports. `bulk_flops` is summed over all iterations.
void set_counters(benchmark::State& state, double bulk_flops, double trials_per_iteration) {
  state.counters["bulk_GFLOPs"] = Counter(bulk_flops * 1e-9, Counter::kIsRate);
  state.counters["trials_per_s"] =
      Counter(trials_per_iteration, Counter::kIsIterationInvariantRate);
  state.counters["s_per_step"] = Counter(
      1.0, static_cast<Counter::Flags>(Counter::kIsIterationInvariantRate | Counter::kInvert));
  state.counters["peak_RSS_MB"] = Counter(peak_rss_mb());
}

// ---------------------------------------------------------------------------------------------
// The float32 kernel

/// While it lives, float32 bulk products made (and re-chosen at each solve) run on lrnn's packed
/// Eigen kernel instead of oneDNN's, when `on`: LRNN_F32_EIGEN=1, as a user would set it.
/// The user's own setting is restored after.
class ForceEigenKernel {
 public:
  explicit ForceEigenKernel(bool on) : on_(on) {
    if (!on_) return;
    if (const char* old = std::getenv("LRNN_F32_EIGEN")) old_ = old;
    setenv("LRNN_F32_EIGEN", "1", 1);
  }
  ~ForceEigenKernel() {
    if (!on_) return;
    if (old_) {
      setenv("LRNN_F32_EIGEN", old_->c_str(), 1);
    } else {
      unsetenv("LRNN_F32_EIGEN");
    }
  }
  ForceEigenKernel(const ForceEigenKernel&) = delete;
  ForceEigenKernel& operator=(const ForceEigenKernel&) = delete;

 private:
  bool on_;
  std::optional<std::string> old_;
};

// ---------------------------------------------------------------------------------------------
// Training steps

lrnn::Config make_config(const Spec& s) {
  lrnn::Config c = lrnn::load_config(config_path(s.method));
  c.integrator.method = s.method;
  if (s.precision == Precision::kBf16 && s.method != Method::kEuler) {
    c.integrator.rtol = std::max(c.integrator.rtol, 1e-3);  // the least bf16 allows
  }
  c.rnn.N = s.N;
  if (!s.noise) c.rnn.noise_std = 0.0;
  c.task.T_stim = static_cast<double>(s.T) - c.task.T_burn;
  c.training.precision = s.precision;
  c.training.threads = s.threads;
  lrnn::validate(c);
  return c;
}

/// The network, task, batch gradient and optimizer state of one training run, as the trainer
/// holds them. Steps walk through the batches of the first epoch, as the trainer's do.
template <typename Scalar>
class StepFixture {
 public:
  explicit StepFixture(const Spec& spec)
      : config_(make_config(spec)),
        task_(config_.task, config_.integrator.dt, config_.training.seed,
              config_.training.n_train_trials, config_.training.n_val_trials, 0),
        batch_grad_(config_.integrator, task_.grid(), config_.task.label_type, spec.threads),
        net_(lrnn::init_network<Scalar>(config_.rnn, config_.training.seed)),
        adam_(net_.theta.layout().total()),
        grad_(net_.dims()),
        mask_(config_.training.trained_groups()),
        order_(lrnn::training_order(task_, config_.training.seed, 0,
                                    config_.training.n_train_trials,
                                    config_.training.balanced_batches)),
        batch_(config_.training.batch_size) {
    if (spec.precision == Precision::kBf16) batch_grad_.set_bulk_mode(lrnn::BulkMode::kBf16);
    // One untimed step sizes the workers' buffers and tapes, so that every timed step is a
    // steady-state one (the first step of a run allocates; the others do not).
    if (spec.kind == Kind::kForward) {
      forward();
    } else {
      train_step();
    }
  }

  /// One optimizer step: loss and gradient of the next batch, weight decay, clip, Adam.
  typename lrnn::BatchGradient<Scalar>::Result train_step() {
    const auto& t = config_.training;
    auto r = batch_grad_.loss_and_gradient(net_, task_, lrnn::Split::kTrain, next_batch(), batch_,
                                           static_cast<double>(batch_), grad_);
    if (!std::isfinite(r.loss) || !grad_.flat().allFinite()) {
      throw std::runtime_error("the loss or gradient is not finite");
    }
    r.loss += lrnn::optimizer_step(net_.theta, grad_, adam_, t, mask_, t.learning_rate).penalty;
    return r;
  }

  /// Loss and accuracy of the next batch, no gradient.
  typename lrnn::BatchGradient<Scalar>::Result forward() {
    return batch_grad_.evaluate(net_, task_, lrnn::Split::kTrain, next_batch(), batch_);
  }

  Index K() const { return task_.grid().K; }
  Index N() const { return net_.dims().N; }
  Index batch() const { return batch_; }

 private:
  const std::int64_t* next_batch() {
    const Index per_epoch = static_cast<Index>(order_.size()) / batch_;
    const std::int64_t* indices = order_.data() + (step_ % per_epoch) * batch_;
    ++step_;
    return indices;
  }

  lrnn::Config config_;
  lrnn::ContextSwitchTask task_;
  lrnn::BatchGradient<Scalar> batch_grad_;
  lrnn::Network<Scalar> net_;
  lrnn::AdamState<Scalar> adam_;
  lrnn::Params<Scalar> grad_;
  lrnn::GroupMask mask_;
  std::vector<std::int64_t> order_;
  Index batch_;
  Index step_ = 0;
};

/// Keeps the fixture of the last step benchmark: Google Benchmark calls a benchmark function
/// several times (to find the iteration count, then once per repetition), and an N = 2000 network
/// and its warm-up step are not worth rebuilding each time. The previous fixture is freed before
/// the next one is built.
class FixtureCache {
 public:
  template <typename Scalar>
  StepFixture<Scalar>& get(const Spec& spec) {
    if (!held_ || !(spec == spec_)) {
      held_.reset();
      reset_peak_rss();
      held_ = std::make_shared<StepFixture<Scalar>>(spec);
      spec_ = spec;
    }
    return *static_cast<StepFixture<Scalar>*>(held_.get());
  }

 private:
  std::shared_ptr<void> held_;  // a StepFixture<Scalar>, Scalar from spec_.precision
  Spec spec_;
};

FixtureCache& fixture_cache() {
  static FixtureCache cache;
  return cache;
}

template <typename Scalar>
void run_step(benchmark::State& state, const Spec& spec) {
  // The kernel is chosen at every solve: the switch holds for the fixture and the timed loop.
  const ForceEigenKernel eigen(spec.backend == Backend::kPacked);
  StepFixture<Scalar>* fx = nullptr;
  try {
    fx = &fixture_cache().get<Scalar>(spec);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  // BatchGradient parallelises over blocks of trials; Eigen must not thread inside them (a GEMM
  // benchmark run before may have set another count).
  Eigen::setNbThreads(1);
  reset_peak_rss();
  const auto N = static_cast<double>(fx->N());
  const auto B = static_cast<double>(fx->batch());
  const auto K = static_cast<double>(fx->K());
  const bool train = spec.kind == Kind::kTrainStep;
  double bulk_flops = 0.0;
  lrnn::SolveStats sum;
  // The bulk products' own time, summed over the solver threads (BulkProfile), and the loop's.
  auto& profile = lrnn::detail::bulk_profile;
  profile.reset();
  profile.enabled.store(true);
  const auto loop_start = std::chrono::steady_clock::now();
  try {
    for (auto _ : state) {
      const auto r = train ? fx->train_step() : fx->forward();
      benchmark::DoNotOptimize(r.loss);
      benchmark::ClobberMemory();
      if (spec.method == Method::kEuler) {
        bulk_flops += (train ? 4.0 : 2.0) * N * N * B * K;
      } else {
        const auto products =
            static_cast<double>(r.stats.rhs_forward + (train ? r.stats.rhs_backward : 0));
        bulk_flops += 2.0 * N * N * B * products;
      }
      sum.steps_accepted += r.stats.steps_accepted;
      sum.steps_rejected += r.stats.steps_rejected;
      sum.rhs_forward += r.stats.rhs_forward;
      sum.rhs_backward += r.stats.rhs_backward;
    }
  } catch (const std::exception& e) {
    profile.enabled.store(false);
    state.SkipWithError(e.what());
    return;
  }
  const double loop_ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                 std::chrono::steady_clock::now() - loop_start)
                                                 .count());
  profile.enabled.store(false);
  set_counters(state, bulk_flops, B);
  // bulk_own_GFLOPs: the bulk flops over the products' own time per thread, so over the threads
  // together (compare with threads x the one-thread product); bulk_share: that time's share of
  // the threads' wall time in the loop. The rest of the step is everything else.
  if (const auto ns = static_cast<double>(profile.nanoseconds.load()); ns > 0.0) {
    const double threads = spec.threads;
    state.counters["bulk_own_GFLOPs"] = Counter(bulk_flops * threads / ns);
    state.counters["bulk_share"] = Counter(ns / (threads * loop_ns));
  }
  if (spec.method != Method::kEuler) {
    state.counters["steps_accepted"] =
        Counter(static_cast<double>(sum.steps_accepted), Counter::kAvgIterations);
    state.counters["steps_rejected"] =
        Counter(static_cast<double>(sum.steps_rejected), Counter::kAvgIterations);
    state.counters["rhs_forward"] =
        Counter(static_cast<double>(sum.rhs_forward), Counter::kAvgIterations);
    state.counters["rhs_backward"] =
        Counter(static_cast<double>(sum.rhs_backward), Counter::kAvgIterations);
  }
}

// ---------------------------------------------------------------------------------------------
// Reference products

/// Y = A X with Eigen on `threads` threads, A rows x depth, X depth x cols.
template <typename Scalar>
void run_gemm(benchmark::State& state, Index rows, Index depth, Index cols, int threads) {
  using Mat = lrnn::MatX<Scalar>;
  Eigen::setNbThreads(threads);
  reset_peak_rss();
  const Mat A = Mat::Random(rows, depth);
  const Mat X = Mat::Random(depth, cols);
  Mat Y(rows, cols);
  Y.noalias() = A * X;  // first touch of Y and of Eigen's buffers, untimed
  for (auto _ : state) {
    Y.noalias() = A * X;
    benchmark::DoNotOptimize(Y.data());
    benchmark::ClobberMemory();
  }
  Eigen::setNbThreads(1);
  const double flops = 2.0 * static_cast<double>(rows) * static_cast<double>(depth) *
                       static_cast<double>(cols) * static_cast<double>(state.iterations());
  // A column of X is one trial's state: trials_per_s is columns per second.
  set_counters(state, flops, static_cast<double>(cols));
}

#ifdef LRNN_BENCH_OPENBLAS
/// The same product through OpenBLAS (column-major, as Eigen stores it) on `threads` threads.
template <typename Scalar>
void run_gemm_openblas(benchmark::State& state, Index rows, Index depth, Index cols, int threads) {
  using Mat = lrnn::MatX<Scalar>;
  openblas_set_num_threads(threads);
  reset_peak_rss();
  const Mat A = Mat::Random(rows, depth);
  const Mat X = Mat::Random(depth, cols);
  Mat Y(rows, cols);
  const auto m = static_cast<blasint>(rows);
  const auto n = static_cast<blasint>(cols);
  const auto k = static_cast<blasint>(depth);
  const auto gemm = [&] {
    if constexpr (std::is_same_v<Scalar, float>) {
      cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, A.data(), m, X.data(),
                  k, 0.0f, Y.data(), m);
    } else {
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, A.data(), m, X.data(), k,
                  0.0, Y.data(), m);
    }
  };
  gemm();  // first touch, untimed
  for (auto _ : state) {
    gemm();
    benchmark::DoNotOptimize(Y.data());
    benchmark::ClobberMemory();
  }
  openblas_set_num_threads(1);
  const double flops = 2.0 * static_cast<double>(rows) * static_cast<double>(depth) *
                       static_cast<double>(cols) * static_cast<double>(state.iterations());
  set_counters(state, flops, static_cast<double>(cols));
}
#endif

/// C times a block the way a solver thread does it, on one thread: lrnn's BulkProduct (C packed
/// once) in float32 on the Eigen kernel (kPacked), or its Bf16Gemm (bf16: C converted once, the
/// block converted per product); or oneDNN's float32 matmul as BulkProduct runs it where it
/// chooses it (kOneDnn: OneDnnMatmul and dst += alpha C X), at any shape, so that the crossover
/// of the two float32 kernels can be measured.
void run_solver_product(benchmark::State& state, Index n, Index cols, Backend backend) {
  using Mat = lrnn::MatX<float>;
  reset_peak_rss();
  const ForceEigenKernel eigen(backend == Backend::kPacked);
  const Mat C = Mat::Random(n, n);
  const Mat X = Mat::Random(n, cols);
  Mat Y = Mat::Zero(n, cols);
  std::function<void()> product;
  lrnn::detail::BulkProduct<float> bulk;
  std::unique_ptr<lrnn::detail::OneDnnMatmul> onednn;
  if (backend == Backend::kOneDnn) {
    onednn = std::make_unique<lrnn::detail::OneDnnMatmul>(lrnn::detail::MatmulInput::kF32);
    onednn->reserve(n, cols);
    onednn->pack(C.data(), n, false);
    state.SetLabel(onednn->implementation());
    product = [&] { Y += Eigen::Map<const Mat>(onednn->multiply(false, X.data(), n), n, cols); };
  } else {
    bulk.reserve(n, cols);
    bulk.set_mode(backend == Backend::kBf16 ? lrnn::BulkMode::kBf16 : lrnn::BulkMode::kNative);
    bulk.pack(C, lrnn::detail::BulkProduct<float>::kForward);
    product = [&] { bulk.add(1.0f, C, X, Y); };
  }
  product();  // first touch, untimed
  for (auto _ : state) {
    product();
    benchmark::DoNotOptimize(Y.data());
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) *
                       static_cast<double>(cols) * static_cast<double>(state.iterations());
  set_counters(state, flops, static_cast<double>(cols));
}

/// A reference product: Eigen's, or OpenBLAS's when the spec asks for it.
template <typename Scalar>
void run_reference(benchmark::State& state, const Spec& spec, Index cols) {
  if constexpr (std::is_same_v<Scalar, float>) {
    if (spec.backend != Backend::kEigen) {
      run_solver_product(state, spec.N, cols, spec.backend);
      return;
    }
  }
#ifdef LRNN_BENCH_OPENBLAS
  if (spec.openblas) {
    run_gemm_openblas<Scalar>(state, spec.N, spec.N, cols, spec.threads);
    return;
  }
#endif
  run_gemm<Scalar>(state, spec.N, spec.N, cols, spec.threads);
}

void run(benchmark::State& state, const Spec& spec) {
  // bf16 solves are float solves with the bulk product's inputs in bfloat16.
  const bool f32 = spec.precision != Precision::kFloat64;
  switch (spec.kind) {
    case Kind::kTrainStep:
    case Kind::kForward:
      if (f32) {
        run_step<float>(state, spec);
      } else {
        run_step<double>(state, spec);
      }
      break;
    case Kind::kGemmBlock:
    case Kind::kGemmSquare: {
      const Index cols = spec.kind == Kind::kGemmBlock ? spec.cols : spec.N;
      if (f32) {
        run_reference<float>(state, spec, cols);
      } else {
        run_reference<double>(state, spec, cols);
      }
      break;
    }
  }
}

/// A run's list of benchmarks, each once, in the order they are added.
class SuiteBuilder {
 public:
  void add(const Spec& x) {
    if (std::find(v_.begin(), v_.end(), x) == v_.end()) v_.push_back(x);
  }
  /// add() with a backend set: the solver's own products, the Eigen-kernel steps.
  void add(Spec x, Backend backend) {
    x.backend = backend;
    add(x);
  }
  std::vector<Spec> take() { return std::move(v_); }

 private:
  std::vector<Spec> v_;
};

/// The reference products: C times blocks of trials (plain Eigen, and the solver's own three
/// paths), and the square GEMMs.
void add_reference_products(SuiteBuilder& b, const Sizes& s) {
  for (const int threads : {1, 2}) {
    for (const int cols : {16, 32}) {
      b.add({Kind::kGemmBlock, Method::kEuler, Precision::kFloat32, s.block_N, 0, cols, threads});
    }
  }
  // The product of a solver thread, C times a block of 16 trials, on its three paths: float32
  // through lrnn's packed Eigen kernel and through oneDNN (where lrnn chooses it), and bf16.
  for (const Backend k : {Backend::kPacked, Backend::kOneDnn, Backend::kBf16}) {
    if (k == Backend::kOneDnn && !lrnn::detail::onednn_built()) continue;
    const Precision p = k == Backend::kBf16 ? Precision::kBf16 : Precision::kFloat32;
    b.add({Kind::kGemmBlock, Method::kEuler, p, s.block_N, 0, 16, 1}, k);
  }
  for (const Precision p : {Precision::kFloat32, Precision::kFloat64}) {
    for (const int threads : {1, 2})
      b.add({Kind::kGemmSquare, Method::kEuler, p, s.square_n, 0, 0, threads});
  }
}

/// The default-size steps: every precision, with and without the shipped noise, float32 on the
/// Eigen kernel where it runs on oneDNN, the forward pass, and the adaptive methods.
void add_default_steps(SuiteBuilder& b, const Sizes& s) {
  for (const Precision p : {Precision::kFloat32, Precision::kFloat64, Precision::kBf16}) {
    for (const int threads : {1, 2})
      b.add({Kind::kTrainStep, Method::kEuler, p, s.N, s.T, 0, threads});
  }
  // float32 and bf16 without the shipped recurrent noise: the bulk products and the rest alone.
  for (const Precision p : {Precision::kFloat32, Precision::kBf16}) {
    for (const int threads : {1, 2}) {
      Spec x{Kind::kTrainStep, Method::kEuler, p, s.N, s.T, 0, threads};
      x.noise = false;
      b.add(x);
    }
  }
  // Where float32 runs on oneDNN: the same float32 steps on lrnn's Eigen kernel, to compare.
  if (lrnn::detail::f32_uses_onednn(s.N, 16)) {
    for (const bool noise : {true, false}) {
      for (const int threads : {1, 2}) {
        Spec x{Kind::kTrainStep, Method::kEuler, Precision::kFloat32, s.N, s.T, 0, threads};
        x.noise = noise;
        b.add(x, Backend::kPacked);
      }
    }
    b.add({Kind::kTrainStep, Method::kRk45, Precision::kFloat32, s.N, s.T, 0, 2}, Backend::kPacked);
  }
  for (const int threads : {1, 2}) {
    b.add({Kind::kForward, Method::kEuler, Precision::kFloat32, s.N, s.T, 0, threads});
  }
  b.add({Kind::kTrainStep, Method::kRk45, Precision::kFloat32, s.N, s.T, 0, 2});
  b.add({Kind::kTrainStep, Method::kTsit5, Precision::kFloat32, s.N, s.T, 0, 2});
  b.add({Kind::kTrainStep, Method::kTsit5, Precision::kBf16, s.N, s.T, 0, 2});
}

/// The full suite's sweeps: the float32 kernels' crossover, and the step over N and over T.
void add_sweeps(SuiteBuilder& b, const Sizes& s) {
  // The crossover of the two float32 kernels (f32_uses_onednn's rule): C x block, one thread.
  if (lrnn::detail::onednn_built()) {
    for (const int N : s.crossover_N) {
      for (const int cols : {1, 4, 5, 16}) {
        for (const Backend k : {Backend::kPacked, Backend::kOneDnn}) {
          b.add({Kind::kGemmBlock, Method::kEuler, Precision::kFloat32, N, 0, cols, 1}, k);
        }
      }
    }
  }
  for (const int N : s.N_sweep) {
    b.add({Kind::kTrainStep, Method::kEuler, Precision::kFloat32, N, s.T, 0, 2});
  }
  for (const int T : s.T_sweep) {
    b.add({Kind::kTrainStep, Method::kEuler, Precision::kFloat32, s.N, T, 0, 2});
  }
#ifdef LRNN_BENCH_OPENBLAS
  // Last, so that OpenBLAS's threads, which spin for a while after a call, slow nothing else.
  for (const int threads : {1, 2}) {
    for (const int cols : {16, 32}) {
      b.add({Kind::kGemmBlock, Method::kEuler, Precision::kFloat32, s.block_N, 0, cols, threads,
             true});
    }
    b.add(
        {Kind::kGemmSquare, Method::kEuler, Precision::kFloat32, s.square_n, 0, 0, threads, true});
  }
#endif
}

/// The benchmarks of a run, in the order they run: references first.
std::vector<Spec> suite(const Sizes& s, bool quick) {
  SuiteBuilder b;
  add_reference_products(b, s);
  add_default_steps(b, s);
  if (!quick) add_sweeps(b, s);
  return b.take();
}

// ---------------------------------------------------------------------------------------------
// Reporting

/// Passes every result on to the reporter --benchmark_format asks for, and keeps the counters for
/// the summary: the median aggregate when repetitions give one, else the median of the runs.
class CollectingReporter : public benchmark::BenchmarkReporter {
 public:
  explicit CollectingReporter(benchmark::BenchmarkReporter* display) : display_(display) {}

  bool ReportContext(const Context& context) override { return display_->ReportContext(context); }

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) {
        ++errors_;
        continue;
      }
      Measured& m = results_[r.run_name.function_name];
      if (r.run_type == Run::RT_Aggregate) {
        if (r.aggregate_name != "median") continue;
        for (const auto& [key, c] : r.counters) m.median[key] = c.value;
      } else {
        for (const auto& [key, c] : r.counters) m.runs[key].push_back(c.value);
      }
    }
    display_->ReportRuns(runs);
  }

  void Finalize() override { display_->Finalize(); }

  /// The counter `key` of benchmark `name`, if it ran.
  std::optional<double> value(const std::string& name, const std::string& key) const {
    const auto it = results_.find(name);
    if (it == results_.end()) return std::nullopt;
    const Measured& m = it->second;
    if (const auto med = m.median.find(key); med != m.median.end()) return med->second;
    const auto runs = m.runs.find(key);
    if (runs == m.runs.end() || runs->second.empty()) return std::nullopt;
    std::vector<double> v = runs->second;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  }

  bool empty() const { return results_.empty(); }
  int errors() const { return errors_; }

 private:
  struct Measured {
    std::map<std::string, double> median;
    std::map<std::string, std::vector<double>> runs;
  };
  benchmark::BenchmarkReporter* display_;
  std::map<std::string, Measured> results_;
  int errors_ = 0;
};

std::string fixed(std::optional<double> v, int decimals) {
  if (!v) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, *v);
  return buf;
}

std::optional<double> ratio(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b <= 0.0) return std::nullopt;
  return *a / *b;
}

double load_average_1min() {
  double load[1] = {-1.0};
  return getloadavg(load, 1) == 1 ? load[0] : -1.0;
}

/// bf16 against float32 in the same run: the step speedup, and the bf16 step's bulk rate as a share
/// of the bf16 product's own rate for the solver's shape (threads x C times 16 trials), over the
/// whole step and over the products' own profiled time; the share of the step they take.
void print_bf16_summary(std::FILE* out, const CollectingReporter& rep,
                        const std::vector<Spec>& specs, const Sizes& sizes) {
  auto value = [&rep](const Spec& s, const char* key) { return rep.value(s.name(), key); };
  Spec peak{Kind::kGemmBlock, Method::kEuler, Precision::kBf16, sizes.block_N, 0, 16, 1};
  peak.backend = Backend::kBf16;
  Spec packed = peak;
  packed.precision = Precision::kFloat32;
  packed.backend = Backend::kPacked;
  const auto bf16_block = value(peak, "bulk_GFLOPs");
  // float32's own product: oneDNN's where float32 runs on it, else the Eigen kernel's.
  Spec chosen = packed;
  if (lrnn::detail::f32_uses_onednn(sizes.block_N, 16)) chosen.backend = Backend::kOneDnn;
  const auto f32_block = value(chosen, "bulk_GFLOPs");
  std::fprintf(out, "\nbf16 (bulk product: %s)\n", lrnn::bf16_backend().c_str());
  std::fprintf(out, "  C x 16 trials, one thread: bf16 %s GFLOP/s, f32 %s GFLOP/s (%sx)\n",
               fixed(bf16_block, 1).c_str(), fixed(f32_block, 1).c_str(),
               fixed(ratio(bf16_block, f32_block), 2).c_str());
  std::fprintf(out, "  %-64s %8s %7s %9s %6s %9s %6s %6s\n", "step", "s/step", "vs f32",
               "bulk rate", "/peak", "own rate", "/peak", "share");
  // The run's default-size float32 and bf16 steps (Euler and tsit5), in the suite's order.
  for (const Spec& b : specs) {
    if (b.kind != Kind::kTrainStep || b.N != sizes.N || b.T != sizes.T ||
        b.precision == Precision::kFloat64 || b.method == Method::kRk45 ||
        b.backend != Backend::kEigen) {
      continue;
    }
    const auto tb = value(b, "s_per_step");
    if (!tb) continue;
    Spec f = b;
    f.precision = Precision::kFloat32;
    // Each precision against its own product: threads x the one-thread C x 16 trials.
    const auto block = b.precision == Precision::kBf16 ? bf16_block : f32_block;
    const auto per_threads = block ? std::optional<double>(*block * b.threads) : std::nullopt;
    const auto rate = value(b, "bulk_GFLOPs");
    const auto own = value(b, "bulk_own_GFLOPs");
    std::fprintf(out, "  %-64s %8s %6sx %9s %6s %9s %6s %6s\n", b.name().c_str(),
                 fixed(tb, 4).c_str(), fixed(ratio(value(f, "s_per_step"), tb), 2).c_str(),
                 fixed(rate, 1).c_str(), fixed(ratio(rate, per_threads), 2).c_str(),
                 fixed(own, 1).c_str(), fixed(ratio(own, per_threads), 2).c_str(),
                 fixed(value(b, "bulk_share"), 2).c_str());
  }
  std::fprintf(
      out,
      "  vs f32: the float32 step of the same method, noise and threads over this one; bulk "
      "rate: the bulk flops over the step's time; own rate: over the bulk products' own "
      "profiled time; /peak: over threads x Gemm/CxBlock/<precision>/cols:16/threads:1 "
      "(bf16, or float32's own: f32/onednn where float32 runs on it, else f32/packed); share: "
      "the products' share of the "
      "step's time\n");
}

/// float32 on oneDNN against lrnn's Eigen kernel in the same run: the product of a solver thread
/// and every default-size float32 step that ran on both.
void print_f32_kernel_summary(std::FILE* out, const CollectingReporter& rep,
                              const std::vector<Spec>& specs, const Sizes& sizes) {
  auto value = [&rep](const Spec& s, const char* key) { return rep.value(s.name(), key); };
  std::fprintf(out, "\nfloat32 (bulk product of N = %d: %s)\n", sizes.N,
               lrnn::float32_backend(sizes.N).c_str());
  Spec packed{Kind::kGemmBlock, Method::kEuler, Precision::kFloat32, sizes.block_N, 0, 16, 1};
  packed.backend = Backend::kPacked;
  Spec onednn = packed;
  onednn.backend = Backend::kOneDnn;
  const auto eigen_rate = value(packed, "bulk_GFLOPs");
  const auto onednn_rate = value(onednn, "bulk_GFLOPs");
  std::fprintf(out,
               "  C x 16 trials, one thread: oneDNN %s GFLOP/s, Eigen kernel %s GFLOP/s (%sx)\n",
               fixed(onednn_rate, 1).c_str(), fixed(eigen_rate, 1).c_str(),
               fixed(ratio(onednn_rate, eigen_rate), 2).c_str());
  std::fprintf(out, "  %-64s %9s %9s %7s\n", "step", "s/step", "Eigen's", "speedup");
  for (const Spec& e : specs) {
    if (e.kind != Kind::kTrainStep || e.backend != Backend::kPacked || e.N != sizes.N ||
        e.T != sizes.T) {
      continue;
    }
    Spec d = e;
    d.backend = Backend::kEigen;
    const auto td = value(d, "s_per_step"), te = value(e, "s_per_step");
    if (!td && !te) continue;  // filtered out
    std::fprintf(out, "  %-64s %9s %9s %6sx\n", d.name().c_str(), fixed(td, 4).c_str(),
                 fixed(te, 4).c_str(), fixed(ratio(te, td), 2).c_str());
  }
}

/// oneDNN's float32 product against the Eigen kernel's over N and the block's width: where lrnn
/// chooses oneDNN (f32_uses_onednn), and whether that was the faster one here.
void print_f32_crossover(std::FILE* out, const CollectingReporter& rep, const Sizes& sizes) {
  auto rate = [&rep](int N, int cols, Backend b) {
    Spec x{Kind::kGemmBlock, Method::kEuler, Precision::kFloat32, N, 0, cols, 1};
    x.backend = b;
    return rep.value(x.name(), "bulk_GFLOPs");
  };
  bool header = false;
  for (const int N : sizes.crossover_N) {
    for (const int cols : {1, 4, 5, 16}) {
      const auto e = rate(N, cols, Backend::kPacked), o = rate(N, cols, Backend::kOneDnn);
      if (!e || !o) continue;
      if (!header) {
        std::fprintf(out,
                     "\nfloat32 kernels, C (N x N) x block, one thread: GFLOP/s\n  %6s %5s %8s "
                     "%8s %8s  %s\n",
                     "N", "cols", "Eigen", "oneDNN", "ratio", "lrnn runs");
        header = true;
      }
      std::fprintf(out, "  %6d %5d %8.1f %8.1f %7.2fx  %s\n", N, cols, *e, *o, *o / *e,
                   lrnn::detail::f32_uses_onednn(N, cols) ? "oneDNN" : "Eigen");
    }
  }
}

/// The table the issue asks for: every step's bulk rate as a ratio to the square GEMM of the same
/// precision and thread count measured in this run, the 2-thread speedup, the N and T sweeps.
std::optional<double> value_of(const CollectingReporter& rep, const Spec& s, const char* key) {
  return rep.value(s.name(), key);
}

// The bulk rate of the square reference product of precision p on `threads` threads.
std::optional<double> square_rate(const CollectingReporter& rep, const Sizes& sizes, Precision p,
                                  int threads) {
  return value_of(rep, {Kind::kGemmSquare, Method::kEuler, p, sizes.square_n, 0, 0, threads},
                  "bulk_GFLOPs");
}

void print_summary_header(std::FILE* out, double load_start, double load_end) {
  std::fprintf(out,
               "\n== lrnn-bench summary: medians; load average (1 min) %.2f at start, %.2f "
               "at end; %d cores\n",
               load_start, load_end, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  if (load_start > 0.5) {
    std::fprintf(out,
                 "   WARNING: the machine was busy when the run started; threads waited for cores "
                 "that other programs held, so the 2-thread figures measure the contention\n");
  }
  if (!g_rss_resets) {
    std::fprintf(out, "   (peak RSS could not be reset per benchmark: it is the process's peak)\n");
  }
}

void print_products(std::FILE* out, const CollectingReporter& rep, const std::vector<Spec>& specs) {
  std::fprintf(out, "\n%-64s %8s %15s\n", "Reference products", "GFLOP/s", "time/product");
  for (const Spec& s : specs) {
    const auto t = value_of(rep, s, "s_per_step");
    if (s.is_step() || !t) continue;
    std::fprintf(out, "  %-62s %8s %12s ms\n", s.name().c_str(),
                 fixed(value_of(rep, s, "bulk_GFLOPs"), 1).c_str(),
                 fixed(t ? std::optional<double>(*t * 1e3) : std::nullopt, 3).c_str());
  }
}

void print_steps(std::FILE* out, const CollectingReporter& rep, const std::vector<Spec>& specs,
                 const Sizes& sizes) {
  const auto value = [&rep](const Spec& s, const char* key) { return value_of(rep, s, key); };
  // The product a solver thread does each time step, C times one block of 16 trials, written as
  // plain Eigen on one thread.
  const auto block16 = value({Kind::kGemmBlock, Method::kEuler, Precision::kFloat32, sizes.block_N,
                              0, static_cast<int>(lrnn::BatchGradient<float>::kTrialsPerBlock), 1},
                             "bulk_GFLOPs");
  std::fprintf(out, "\n%-64s %7s %13s %9s %8s %9s %7s\n", "Steps (batch 32)", "s/step",
               "bulk GFLOP/s", "trials/s", "/square", "/block16", "RSS MB");
  for (const Spec& s : specs) {
    if (!s.is_step() || !value(s, "s_per_step")) continue;
    const auto rate = value(s, "bulk_GFLOPs");
    // Each thread solves one block of 16 trials. The solver calls Eigen's GEMM kernel with a
    // persistent workspace (integrate/bulk_product.hpp), which the plain product allocates on every
    // call, so this ratio can exceed 1.
    std::optional<double> vs_block;
    if (s.precision == Precision::kFloat32 && s.N == sizes.block_N && block16) {
      vs_block = ratio(rate, *block16 * static_cast<double>(s.threads));
    }
    std::fprintf(out, "  %-62s %7s %13s %9s %8s %9s %7s\n", s.name().c_str(),
                 fixed(value(s, "s_per_step"), 4).c_str(), fixed(rate, 1).c_str(),
                 fixed(value(s, "trials_per_s"), 0).c_str(),
                 fixed(ratio(rate, square_rate(rep, sizes,
                                               s.precision == Precision::kBf16 ? Precision::kFloat32
                                                                               : s.precision,
                                               s.threads)),
                       2)
                     .c_str(),
                 fixed(vs_block, 2).c_str(), fixed(value(s, "peak_RSS_MB"), 0).c_str());
    if (s.method != Method::kEuler) {
      std::fprintf(out,
                   "      per step: %s accepted + %s rejected steps, %s RHS forward, %s backward "
                   "(busiest block)\n",
                   fixed(value(s, "steps_accepted"), 0).c_str(),
                   fixed(value(s, "steps_rejected"), 0).c_str(),
                   fixed(value(s, "rhs_forward"), 0).c_str(),
                   fixed(value(s, "rhs_backward"), 0).c_str());
    }
  }
  std::fprintf(out,
               "  /square: bulk rate over Gemm/Square of the same precision and threads (f32's "
               "for bf16); /block16: over threads x Gemm/CxBlock/f32/cols:16/threads:1\n");
}

// Cost N²·B·T: s/step divided by (N/N0)² (T/T0), relative to the default point.
void print_scaling(std::FILE* out, const CollectingReporter& rep, const std::vector<Spec>& specs,
                   const Sizes& sizes, const std::optional<double>& t0, const char* title,
                   bool over_N) {
  const auto value = [&rep](const Spec& s, const char* key) { return value_of(rep, s, key); };
  std::vector<Spec> rows;
  for (const Spec& s : specs) {
    if (s.kind == Kind::kTrainStep && s.method == Method::kEuler && s.threads == 2 &&
        s.precision == Precision::kFloat32 && s.noise && s.backend == Backend::kEigen &&
        (over_N ? s.T == sizes.T : s.N == sizes.N) && value(s, "s_per_step")) {
      rows.push_back(s);
    }
  }
  if (rows.size() < 2) return;
  std::sort(rows.begin(), rows.end(),
            [](const Spec& a, const Spec& b) { return a.N != b.N ? a.N < b.N : a.T < b.T; });
  std::fprintf(out, "\n%s\n  %6s %6s %9s %13s %8s %17s\n", title, "N", "T", "s/step",
               "bulk GFLOP/s", "/square", "cost/(N^2 T) rel.");
  for (const Spec& s : rows) {
    const double t = *value(s, "s_per_step");
    const double n_ratio = static_cast<double>(s.N) / sizes.N;
    const double scale = n_ratio * n_ratio * static_cast<double>(s.T) / sizes.T;
    const auto rate = value(s, "bulk_GFLOPs");
    std::fprintf(out, "  %6d %6d %9.4f %13s %8s %17s\n", s.N, s.T, t, fixed(rate, 1).c_str(),
                 fixed(ratio(rate, square_rate(rep, sizes, s.precision, 2)), 2).c_str(),
                 fixed(t0 ? std::optional<double>(t / (scale * *t0)) : std::nullopt, 2).c_str());
  }
}

void print_summary(std::FILE* out, const CollectingReporter& rep, const std::vector<Spec>& specs,
                   const Sizes& sizes, double load_start, double load_end) {
  print_summary_header(out, load_start, load_end);
  print_products(out, rep, specs);
  print_steps(out, rep, specs, sizes);
  print_bf16_summary(out, rep, specs, sizes);
  print_f32_kernel_summary(out, rep, specs, sizes);
  print_f32_crossover(out, rep, sizes);

  const Spec one{Kind::kTrainStep, Method::kEuler, Precision::kFloat32, sizes.N, sizes.T, 0, 1};
  Spec two = one;
  two.threads = 2;
  const auto speedup = ratio(value_of(rep, one, "s_per_step"), value_of(rep, two, "s_per_step"));
  if (speedup) {
    std::fprintf(out,
                 "\nSpeedup of the default training step (euler f32, N = %d, T = %d), 2 "
                 "threads over 1: %.2fx (target >= 1.8x)\n",
                 sizes.N, sizes.T, *speedup);
  }
  const auto t0 = value_of(rep, two, "s_per_step");
  print_scaling(out, rep, specs, sizes, t0, "N sweep (TrainStep euler f32, 2 threads)", true);
  print_scaling(out, rep, specs, sizes, t0, "T sweep (TrainStep euler f32, 2 threads)", false);
  std::fprintf(out, "\n");
  std::fflush(out);
}

void print_usage() {
  std::printf(
      "lrnn-bench: training-step benchmarks of lrnn with the machine's GEMM rate as reference.\n"
      "  --smoke   every benchmark once, on tiny sizes (CI: checks that it runs, not its speed)\n"
      "  --quick   only the default-config figures and the reference products\n"
      "Google Benchmark's flags:\n");
  benchmark::PrintDefaultHelp();
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv, print_usage);
  bool smoke = false;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      smoke = true;
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::fprintf(stderr, "lrnn-bench: unknown option '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  const Sizes sizes = smoke ? Sizes::smoke() : Sizes{};
  const std::vector<Spec> specs = suite(sizes, quick);
  for (const Spec& s : specs) {
    auto* b =
        benchmark::RegisterBenchmark(s.name().c_str(), [s](benchmark::State& st) { run(st, s); });
    b->UseRealTime()->Unit(s.kind == Kind::kGemmBlock ? benchmark::kMicrosecond
                                                      : benchmark::kMillisecond);
    if (smoke) b->Iterations(1);
  }

  const double load_start = load_average_1min();
  char load_text[32];
  std::snprintf(load_text, sizeof load_text, "%.2f", load_start);
  benchmark::AddCustomContext("load_average_1min_at_start", load_text);
  benchmark::AddCustomContext("lrnn_mode", smoke ? "smoke" : (quick ? "quick" : "full"));

  benchmark::BenchmarkReporter* display = benchmark::CreateDefaultDisplayReporter();
  CollectingReporter reporter(display);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (!reporter.empty()) {
    // The summary goes where it cannot break a JSON or CSV report on stdout.
    std::FILE* out = dynamic_cast<benchmark::ConsoleReporter*>(display) ? stdout : stderr;
    print_summary(out, reporter, specs, sizes, load_start, load_average_1min());
  }
  // A benchmark that fails (a config that no longer loads, a non-finite gradient) fails the run,
  // so that the CI smoke test catches it.
  if (reporter.errors() > 0) {
    std::fprintf(stderr, "lrnn-bench: %d benchmark run(s) failed\n", reporter.errors());
    return 1;
  }
  return 0;
}
