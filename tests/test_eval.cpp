// lrnn-eval's library parts: the metrics on hand-made readouts, the recorded traces against a
// naive simulation, and eval.h5's contents.
#include <H5Cpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numeric>
#include <optional>
#include <random>

#include "lrnn/analysis/eval_metrics.hpp"
#include "lrnn/analysis/traces.hpp"
#include "lrnn/integrate/euler_bptt.hpp"
#include "lrnn/io/metrics_log.hpp"
#include "lrnn/io/trials_file.hpp"
#include "lrnn/report/eval_file.hpp"
#include "lrnn/report/eval_metrics_report.hpp"
#include "lrnn/task/context_switch.hpp"
#include "support/json.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------------------------------
// Metrics on hand-made readouts

/// Trials with given ȳ, target, context and coherence (no time series).
TrialTraces hand_made(const std::vector<double>& y_bar, const std::vector<double>& target,
                      const std::vector<int>& context,
                      const std::vector<std::array<double, 2>>& c) {
  TrialTraces t;
  const auto n = static_cast<Index>(y_bar.size());
  t.y_bar = Eigen::Map<const VecX<double>>(y_bar.data(), n);
  t.target = Eigen::Map<const VecX<double>>(target.data(), n);
  t.context = context;
  t.coherence.setZero(n, 2);
  for (Index j = 0; j < n; ++j) {
    t.coherence(j, 0) = c[static_cast<std::size_t>(j)][0];
    t.coherence(j, 1) = c[static_cast<std::size_t>(j)][1];
  }
  t.y.setZero(n, 0);
  return t;
}

TEST(EvalMetrics, HandMadeReadouts) {
  // Context 1 follows stimulus 1, context 2 stimulus 2. Trial 3 is wrong (it followed stimulus 1
  // in context 2), trial 5 is right but unsure.
  const TrialTraces t = hand_made(
      /*y_bar=*/{0.9, -1.1, 1.0, 0.8, -0.9, 0.1},
      /*target=*/{1, -1, 1, -1, -1, 1},
      /*context=*/{1, 1, 2, 2, 2, 1},
      /*coherence=*/{{0.5, -0.5}, {-0.5, 0.5}, {-0.5, 0.5}, {0.5, -0.5}, {0.5, -0.5}, {0.5, 0.5}});
  const EvalMetrics m = compute_eval_metrics(LabelType::kPm1, t);
  const double loss = (0.01 + 0.01 + 0.0 + 3.24 + 0.01 + 0.81) / 6.0;
  EXPECT_NEAR(m.task.loss, loss, 1e-12);
  EXPECT_DOUBLE_EQ(m.task.accuracy, 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.task.accuracy_ctx[0], 1.0);
  EXPECT_DOUBLE_EQ(m.task.accuracy_ctx[1], 2.0 / 3.0);

  // Stimulus 1 = +0.5 over all contexts: trials 0, 3, 4, 5 -> choices +, +, -, + and correct
  // 1, 0, 1, 1.
  bool found = false;
  for (const CoherenceBin& b : m.by_coherence) {
    if (b.stimulus == 1 && b.context == 0 && b.coherence == 0.5) {
      found = true;
      EXPECT_EQ(b.n, 4);
      EXPECT_DOUBLE_EQ(b.p_plus, 0.75);
      EXPECT_DOUBLE_EQ(b.accuracy, 0.75);
    }
  }
  EXPECT_TRUE(found);
  // Stimuli x contexts x 2 coherences, pooled and per context: 2 x 3 x 2 bins.
  EXPECT_EQ(m.by_coherence.size(), 12u);
  ASSERT_EQ(m.psychometric.size(), 4u);
  for (const PsychometricCurve& c : m.psychometric) {
    EXPECT_EQ(c.relevant, c.context == c.stimulus);
    EXPECT_EQ(c.points.size(), 2u);
  }
  // Context 1 (trials 0, 1, 5): irrelevant stimulus 2 = -, +, + and choices +, -, +: agree 1/3.
  EXPECT_DOUBLE_EQ(m.irrelevant_agreement[0], 1.0 / 3.0);
  // Context 2 (trials 2, 3, 4): irrelevant stimulus 1 = -, +, + and choices +, +, -: agree 1/3.
  EXPECT_DOUBLE_EQ(m.irrelevant_agreement[1], 1.0 / 3.0);
}

TEST(EvalMetrics, BinaryLabelsUseTheLogit) {
  const TrialTraces t =
      hand_made({2.0, -0.5, 0.3}, {1, 0, 0}, {1, 1, 2}, {{1, 1}, {-1, 1}, {1, -1}});
  const EvalMetrics m = compute_eval_metrics(LabelType::kBinary, t);
  // Logistic loss log(1 + e^ȳ) - target ȳ.
  const double loss =
      (std::log1p(std::exp(2.0)) - 2.0 + std::log1p(std::exp(-0.5)) + std::log1p(std::exp(0.3))) /
      3.0;
  EXPECT_NEAR(m.task.loss, loss, 1e-12);
  EXPECT_DOUBLE_EQ(m.task.accuracy, 2.0 / 3.0);
  EXPECT_TRUE(reports_plus(LabelType::kBinary, 0.01));
  EXPECT_FALSE(reports_plus(LabelType::kBinary, -0.01));
}

TEST(EvalMetrics, UnknownContextsAndCoherences) {
  // A trials file without /context or /coherence: accuracy only, no curves, agreement NaN, and
  // the JSON says null rather than nan.
  const TrialTraces t = hand_made({1, -1, 1}, {1, -1, -1}, {0, 0, 0}, {{0, 0}, {0, 0}, {0, 0}});
  const EvalMetrics m = compute_eval_metrics(LabelType::kPm1, t);
  EXPECT_DOUBLE_EQ(m.task.accuracy, 2.0 / 3.0);
  EXPECT_TRUE(m.by_coherence.empty());
  EXPECT_TRUE(m.psychometric.empty());
  EXPECT_TRUE(std::isnan(m.irrelevant_agreement[0]));
  const std::string json = to_json(m);
  std::optional<test::Json> doc = test::parse_json(json);
  ASSERT_TRUE(doc.has_value()) << "not one JSON document:\n" << json;
  EXPECT_TRUE((*doc)["irrelevant_agreement_ctx1"].is_null()) << json;
  EXPECT_TRUE((*doc)["irrelevant_agreement_ctx2"].is_null()) << json;
  EXPECT_NEAR((*doc)["accuracy"].get<double>(), 2.0 / 3.0, 1e-9);  // printed to 9 digits
  EXPECT_EQ((*doc)["n_trials"], 3);
  EXPECT_TRUE((*doc)["by_coherence"].empty());
  EXPECT_TRUE((*doc)["psychometric"].empty());
}

TEST(EvalMetrics, ContinuousCoherencesAreBinnedByQuantile) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  const int n = 1000;
  std::vector<double> y(n), target(n);
  std::vector<int> ctx(n, 1);
  std::vector<std::array<double, 2>> c(n);
  for (int j = 0; j < n; ++j) {
    c[static_cast<std::size_t>(j)] = {u(rng), u(rng)};
    y[static_cast<std::size_t>(j)] = c[static_cast<std::size_t>(j)][0];
    target[static_cast<std::size_t>(j)] = c[static_cast<std::size_t>(j)][0] > 0 ? 1 : -1;
  }
  EvalMetricsOptions options;
  options.max_coherence_bins = 10;
  const EvalMetrics m =
      compute_eval_metrics(LabelType::kPm1, hand_made(y, target, ctx, c), options);
  int bins = 0;
  double last = -2;
  for (const CoherenceBin& b : m.by_coherence) {
    if (b.stimulus != 1 || b.context != 0) continue;
    ++bins;
    EXPECT_EQ(b.n, 100);           // equal counts
    EXPECT_GT(b.coherence, last);  // ascending bin means
    last = b.coherence;
  }
  EXPECT_EQ(bins, 10);
}

TEST(EvalMetrics, LogisticFitRecoversKnownParameters) {
  // Choices drawn from P(+1) = σ(0.3 + 4 c) on 20000 trials. The standard error of β1 is about
  // 1 / sqrt(n Var(c) p(1-p)) ≈ 0.04, so 0.25 is over 5 standard errors.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-1, 1), p01(0, 1);
  std::vector<double> c(20000);
  std::vector<int> plus(c.size());
  for (std::size_t j = 0; j < c.size(); ++j) {
    c[j] = u(rng);
    plus[j] = p01(rng) < 1.0 / (1.0 + std::exp(-(0.3 + 4.0 * c[j]))) ? 1 : 0;
  }
  const auto [b0, b1] = fit_logistic(c, plus, 1e-3);
  EXPECT_NEAR(b0, 0.3, 0.1);
  EXPECT_NEAR(b1, 4.0, 0.25);

  // Choices that ignore c: the slope is near 0. Perfectly separated choices: large but finite.
  std::vector<int> random(c.size()), separated(c.size());
  for (std::size_t j = 0; j < c.size(); ++j) {
    random[j] = p01(rng) < 0.5 ? 1 : 0;
    separated[j] = c[j] > 0 ? 1 : 0;
  }
  EXPECT_LT(std::abs(fit_logistic(c, random, 1e-3).second), 0.2);
  const double steep = fit_logistic(c, separated, 1e-3).second;
  EXPECT_GT(steep, 20.0);
  EXPECT_TRUE(std::isfinite(steep));
}

// ------------------------------------------------------------------------------------------
// Traces

struct TinyEval {
  TaskOptions task;
  TimeGrid grid;
  IntegratorOptions integrator;
  Network<double> net;
  std::unique_ptr<ContextSwitchTask> source;
  std::vector<std::int64_t> idx;

  explicit TinyEval(double dt = 0.1, std::int64_t n = 20) {
    task.T_burn = 2.0;
    task.T_stim = 6.0;
    task.T_avg = 2.0;
    task.coherences = {0.5, 1.0};
    integrator.dt = dt;
    grid = make_time_grid(task, dt);
    RnnOptions rnn;
    rnn.N = 20;
    rnn.R = 2;
    rnn.M_init_std = 2.0;  // a visible low-rank drive
    net = init_network<double>(rnn, 5);
    source = std::make_unique<ContextSwitchTask>(task, dt, 9, 0, 0, n);
    idx.resize(static_cast<std::size_t>(n));
    std::iota(idx.begin(), idx.end(), std::int64_t{0});
  }
  TrialTraces record(int threads = 1) const {
    return record_traces(net, *source, Split::kTest, idx.data(), static_cast<Index>(idx.size()),
                         integrator, grid, threads);
  }
};

TEST(Traces, EulerMatchesANaiveSimulation) {
  const TinyEval s;
  const TrialTraces tr = s.record();
  const Index K = s.grid.K, N = 20, n = 20;
  ASSERT_EQ(tr.n_trials(), n);
  ASSERT_EQ(tr.n_obs(), K);
  ASSERT_EQ(tr.rank(), 2);
  EXPECT_DOUBLE_EQ(tr.t.front(), 0.1);
  EXPECT_DOUBLE_EQ(tr.t.back(), s.grid.T);

  TrialBatch<double> batch;
  s.source->fill(Split::kTest, s.idx.data(), n, batch);
  const auto& th = s.net.theta;
  const double alpha = s.grid.dt / s.net.tau;
  double worst = 0;
  for (Index j = 0; j < n; ++j) {
    VecX<double> x = VecX<double>::Zero(N);
    for (Index k = 0; k < K; ++k) {
      const VecX<double> phi = x.array().tanh();
      const VecX<double> u = batch.u.col(k * n + j);
      x += alpha *
           (-x + s.net.g * (s.net.C * phi) + th.M() * (th.n().transpose() * phi) / N + th.B() * u);
      const VecX<double> phi1 = x.array().tanh();
      worst = std::max(worst, std::abs(tr.y(j, k) - (th.w().dot(phi1) / N + th.b())));
      for (Index r = 0; r < 2; ++r) {
        worst = std::max(worst, std::abs(tr.kappa[static_cast<std::size_t>(r)](j, k) -
                                         th.n().col(r).dot(phi1) / N));
      }
      for (Index c = 0; c < 4; ++c) {
        EXPECT_EQ(tr.u[static_cast<std::size_t>((j * K + k) * 4 + c)], u[c]);
      }
    }
    // ȳ is the mean of the window's readouts, and the label and coherence are the batch's.
    EXPECT_NEAR(tr.y_bar[j], tr.y.row(j).tail(s.grid.m_window).mean(), 1e-12);
    EXPECT_EQ(tr.target[j], batch.target[j]);
    EXPECT_EQ(tr.context[static_cast<std::size_t>(j)], batch.context[static_cast<std::size_t>(j)]);
    EXPECT_EQ(tr.coherence(j, 1), batch.coherence(1, j));
  }
  // Rounding only: the naive loop sums in another order.
  EXPECT_LT(worst, 1e-12);

  // ȳ is bit for bit the one training sees.
  EulerBptt<double> euler(s.grid);
  VecX<double> y_bar(n);
  euler.forward(s.net, batch, y_bar);
  for (Index j = 0; j < n; ++j) EXPECT_EQ(tr.y_bar[j], y_bar[j]);
}

// x(t_k) recorded on request: Euler's states are the naive loop's, rk45's are the dense output
// the readouts were taken from (so tanh(x) gives back κ), and without the request x stays empty.
TEST(Traces, StatesOnRequest) {
  TinyEval s(0.1, 5);
  const Index K = s.grid.K, N = 20, n = 5;
  EXPECT_TRUE(s.record().x.empty());
  const auto record_states = [&] {
    return record_traces(s.net, *s.source, Split::kTest, s.idx.data(), n, s.integrator, s.grid, 2,
                         {}, /*record_states=*/true);
  };
  TrialBatch<double> batch;
  s.source->fill(Split::kTest, s.idx.data(), n, batch);
  const auto& th = s.net.theta;
  const double alpha = s.grid.dt / s.net.tau;
  const TrialTraces euler = record_states();
  ASSERT_EQ(euler.x.size(), static_cast<std::size_t>(n * K * N));
  double worst = 0;
  for (Index j = 0; j < n; ++j) {
    VecX<double> x = VecX<double>::Zero(N);
    for (Index k = 0; k < K; ++k) {
      const VecX<double> phi = x.array().tanh();
      x += alpha * (-x + s.net.g * (s.net.C * phi) + th.M() * (th.n().transpose() * phi) / N +
                    th.B() * batch.u.col(k * n + j));
      for (Index i = 0; i < N; ++i) {
        worst = std::max(worst,
                         std::abs(euler.x[static_cast<std::size_t>((j * K + k) * N + i)] - x[i]));
      }
    }
  }
  EXPECT_LT(worst, 1e-12);  // rounding only: the naive loop sums in another order

  s.integrator.method = Method::kRk45;
  const TrialTraces rk = record_states();
  ASSERT_EQ(rk.x.size(), static_cast<std::size_t>(n * K * N));
  worst = 0;
  for (Index j = 0; j < n; ++j) {
    for (Index k = 0; k < K; ++k) {
      const Eigen::Map<const VecX<double>> x(rk.x.data() + (j * K + k) * N, N);
      const VecX<double> phi = x.array().tanh();
      worst = std::max(worst, std::abs(rk.kappa[1](j, k) - th.n().col(1).dot(phi) / N));
      worst = std::max(worst, std::abs(rk.y(j, k) - (th.w().dot(phi) / N + th.b())));
    }
  }
  EXPECT_LT(worst, 1e-12);
}

TEST(Traces, SameOnAnyThreadCount) {
  const TinyEval s(0.1, 40);
  const TrialTraces a = s.record(1), b = s.record(3);
  EXPECT_EQ(a.y, b.y);
  EXPECT_EQ(a.kappa[1], b.kappa[1]);
  EXPECT_EQ(a.y_bar, b.y_bar);
}

TEST(Traces, Rk45DenseOutputAgreesWithEulerAsDtShrinks) {
  // rk45 at tight tolerance records y(t_k) from its dense output on the dt = 0.1 grid; Euler
  // with dt = 0.01 and 0.005 converges to it at order 1 at those times.
  TinyEval rk(0.1);
  rk.integrator.method = Method::kRk45;
  rk.integrator.rtol = 1e-10;
  rk.integrator.atol = 1e-12;
  const TrialTraces ref = rk.record();
  double err[2];
  const double dts[2] = {0.01, 0.005};
  for (int i = 0; i < 2; ++i) {
    const TinyEval eu(dts[i]);
    const TrialTraces tr = eu.record();
    const auto stride = static_cast<Index>(std::lround(0.1 / dts[i]));
    err[i] = 0;
    for (Index k = 1; k <= ref.n_obs(); ++k) {
      for (Index j = 0; j < ref.n_trials(); ++j) {
        err[i] = std::max(err[i], std::abs(tr.y(j, k * stride - 1) - ref.y(j, k - 1)));
        err[i] =
            std::max(err[i], std::abs(tr.kappa[0](j, k * stride - 1) - ref.kappa[0](j, k - 1)));
      }
    }
  }
  EXPECT_LT(err[0], 1e-3);  // measured 1.5e-4
  // First order: halving dt halves the error (within 20 %).
  EXPECT_NEAR(err[0] / err[1], 2.0, 0.4) << err[0] << " " << err[1];
  // The window average: rk45's quadrature against Euler's grid mean, also O(dt).
  const TinyEval eu(0.005);
  EXPECT_LT((eu.record().y_bar - ref.y_bar).cwiseAbs().maxCoeff(), 0.01);
}

// ------------------------------------------------------------------------------------------
// eval.h5

template <typename T>
std::vector<T> read_all(const H5::H5File& f, const std::string& name, std::vector<hsize_t>& dims,
                        const H5::PredType& type) {
  const H5::DataSet ds = f.openDataSet(name);
  const H5::DataSpace sp = ds.getSpace();
  dims.assign(static_cast<std::size_t>(sp.getSimpleExtentNdims()), 0);
  sp.getSimpleExtentDims(dims.data());
  std::vector<T> v(static_cast<std::size_t>(sp.getSimpleExtentNpoints()));
  ds.read(v.data(), type);
  return v;
}

TEST(EvalFile, ContentsAndReplayAsATrialsFile) {
  const TinyEval s;
  const TrialTraces tr = s.record();
  const EvalMetrics m = compute_eval_metrics(LabelType::kPm1, tr);
  const fs::path dir = fs::temp_directory_path() / ("lrnn_test_eval_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "eval.h5").string();
  EvalFileMeta meta;
  meta.checkpoint = "x.h5";
  meta.step = 17;
  meta.integrator = "euler";
  write_eval_file(path, tr, m, meta);

  {
    const H5::H5File f(path, H5F_ACC_RDONLY);
    std::vector<hsize_t> d;
    const Index n = tr.n_trials(), K = tr.n_obs();
    const auto u = read_all<double>(f, "/trials/u", d, H5::PredType::NATIVE_DOUBLE);
    EXPECT_EQ(d, (std::vector<hsize_t>{20, static_cast<hsize_t>(K), 4}));
    EXPECT_EQ(u, tr.u);
    const auto y = read_all<double>(f, "/trials/y", d, H5::PredType::NATIVE_DOUBLE);
    EXPECT_EQ(d, (std::vector<hsize_t>{20, static_cast<hsize_t>(K)}));
    const auto kappa = read_all<double>(f, "/trials/kappa", d, H5::PredType::NATIVE_DOUBLE);
    EXPECT_EQ(d, (std::vector<hsize_t>{20, static_cast<hsize_t>(K), 2}));
    for (Index j = 0; j < n; ++j) {
      for (Index k = 0; k < K; ++k) {
        // Row-major as h5py shows it: [trial, step] and [trial, step, r].
        EXPECT_EQ(y[static_cast<std::size_t>(j * K + k)], tr.y(j, k));
        EXPECT_EQ(kappa[static_cast<std::size_t>((j * K + k) * 2 + 1)], tr.kappa[1](j, k));
      }
    }
    const auto coh = read_all<double>(f, "/trials/coherence", d, H5::PredType::NATIVE_DOUBLE);
    EXPECT_EQ(d, (std::vector<hsize_t>{20, 2}));
    EXPECT_EQ(coh[3 * 2 + 1], tr.coherence(3, 1));
    const auto ctx = read_all<int>(f, "/trials/context", d, H5::PredType::NATIVE_INT);
    EXPECT_EQ(ctx, tr.context);
    const auto choice = read_all<int>(f, "/trials/choice", d, H5::PredType::NATIVE_INT);
    for (Index j = 0; j < n; ++j) {
      EXPECT_EQ(choice[static_cast<std::size_t>(j)], tr.y_bar[j] > 0 ? 1 : -1);
    }
    const auto time = read_all<double>(f, "/time", d, H5::PredType::NATIVE_DOUBLE);
    EXPECT_EQ(time, tr.t);
    std::int64_t step = 0;
    f.openAttribute("step").read(H5::PredType::NATIVE_INT64, &step);
    EXPECT_EQ(step, 17);
    double acc = -1;
    f.openAttribute("accuracy").read(H5::PredType::NATIVE_DOUBLE, &acc);
    EXPECT_EQ(acc, m.task.accuracy);
  }

  // /trials is a trials file: the same trials come back.
  const TrialsFile replay = TrialsFile::load(path, LabelType::kPm1);
  ASSERT_EQ(replay.size(Split::kTest), 20);
  TrialBatch<double> a, b;
  replay.fill(Split::kTest, s.idx.data(), 20, a);
  s.source->fill(Split::kTest, s.idx.data(), 20, b);
  EXPECT_EQ(a.u, b.u);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.context, b.context);
  EXPECT_EQ(a.coherence, b.coherence);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lrnn

namespace lrnn {
namespace {

TEST(JsonObject, TextNumbersAndLiterals) {
  JsonObject o;
  o.add("name", "best.h5")  // a string literal is text, not the bool true
      .add("text", std::string("a\"b"))
      .add("n", 3)
      .add("x", 0.5)
      .add("bad", std::nan(""))
      .add("flag", false);
  EXPECT_EQ(o.str(), R"({"name":"best.h5","text":"a\"b","n":3,"x":0.5,"bad":null,"flag":false})");
  std::optional<test::Json> doc = test::parse_json(o.str());
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(test::keys_of(*doc),
            (std::vector<std::string>{"name", "text", "n", "x", "bad", "flag"}));
  EXPECT_EQ((*doc)["text"], "a\"b");
  EXPECT_EQ((*doc)["n"], 3);
  EXPECT_EQ((*doc)["x"], 0.5);
  EXPECT_TRUE((*doc)["bad"].is_null());
  EXPECT_EQ((*doc)["flag"], false);

  // Nesting: an object, and a value given as JSON text (parsed, so broken text is refused).
  JsonObject outer;
  outer.add("inner", o).add_json("list", "[1, 2.5, null]");
  std::optional<test::Json> nested = test::parse_json(outer.str());
  ASSERT_TRUE(nested.has_value()) << outer.str();
  EXPECT_EQ((*nested)["inner"]["text"], "a\"b");
  EXPECT_EQ((*nested)["list"][1], 2.5);
  EXPECT_TRUE((*nested)["list"][2].is_null());
  EXPECT_THROW(JsonObject().add_json("x", "[1, "), std::invalid_argument);
  EXPECT_THROW(JsonObject().add_json("x", R"({"a": 1, "a": 2})"), std::invalid_argument);
}

}  // namespace
}  // namespace lrnn
