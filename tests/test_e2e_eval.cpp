// End-to-end: the real lrnn-eval on a tiny checkpoint, and its errors.
#include <H5Cpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "lrnn/config/config.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "support/app_run.hpp"
#include "support/files.hpp"
#include "support/json.hpp"
#include "support/xml.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;
using test::AppRun;
using test::read_text;

AppRun eval(const std::string& args) { return test::run_app(LRNN_EVAL_EXE, args); }

/// A scratch directory with an untrained tiny checkpoint, removed afterwards.
class E2eEval : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lrnn_e2e_eval_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Config c;
    c.rnn.N = 16;
    c.task.T_burn = 2;
    c.task.T_stim = 4;
    c.task.T_avg = 1;
    c.task.coherences = {0.2, 0.8};
    c.integrator.dt = 0.2;
    const auto net = init_network<float>(c.rnn, 1);
    CheckpointMeta meta;
    meta.config_yaml = to_yaml(c);
    ckpt_ = (dir_ / "best.h5").string();
    save_checkpoint(ckpt_, net, AdamState<float>(net.theta.layout().total()), meta);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string ckpt_;
};

TEST_F(E2eEval, WritesEveryFile) {
  const AppRun r = eval(ckpt_ + " --trials 40 --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.out.find("accuracy"), std::string::npos) << r.out;
  const fs::path out = dir_ / "eval_best";  // the default: beside the checkpoint
  for (const char* f :
       {"eval.h5", "metrics.json", "readout.svg", "psychometric.svg", "latents.svg"}) {
    EXPECT_TRUE(fs::exists(out / f)) << f;
  }
  EXPECT_FALSE(fs::exists(out / "training.svg"));  // no metrics.jsonl beside this checkpoint
  const std::string json = read_text(out / "metrics.json");
  std::optional<test::Json> doc = test::parse_json(json);
  ASSERT_TRUE(doc.has_value()) << "not one JSON document:\n" << json;
  EXPECT_EQ((*doc)["n_trials"], 40) << json;
  EXPECT_EQ((*doc)["integrator"], "euler") << json;
  EXPECT_EQ((*doc)["n_ctx1"].get<int>() + (*doc)["n_ctx2"].get<int>(), 40) << json;
  const double accuracy = (*doc)["accuracy"].get<double>();
  EXPECT_GE(accuracy, 0.0);
  EXPECT_LE(accuracy, 1.0);
  for (const char* f : {"readout.svg", "psychometric.svg", "latents.svg"}) {
    const auto x = test::check_xml(read_text(out / f));
    EXPECT_TRUE(x.ok) << f << ": " << x.error;
  }
  const H5::H5File h5((out / "eval.h5").string(), H5F_ACC_RDONLY);
  hsize_t d[3];
  h5.openDataSet("/trials/kappa").getSpace().getSimpleExtentDims(d);
  EXPECT_EQ(d[0], 40u);
  EXPECT_EQ(d[1], 30u);  // K = 6 / 0.2
  EXPECT_EQ(d[2], 2u);
}

TEST_F(E2eEval, TrainingCurvesWhenTheRunHasMetrics) {
  std::ofstream(dir_ / "metrics.jsonl")
      << "{\"step\": 1, \"loss\": 1.0}\n{\"step\": 2, \"loss\": 0.5, \"val_loss\": 0.6, "
         "\"val_accuracy\": 0.7, \"val_accuracy_ctx1\": 0.8, \"val_accuracy_ctx2\": 0.6}\n";
  const AppRun r = eval(ckpt_ + " --trials 16 --out " + (dir_ / "o").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(test::check_xml(read_text(dir_ / "o" / "training.svg")).ok);
}

TEST_F(E2eEval, Rk45AndReplayOfTheSameTrials) {
  const std::string first = (dir_ / "a").string();
  ASSERT_EQ(eval(ckpt_ + " --trials 24 --no-figures --out " + first).exit_code, 0);
  // The eval.h5 of the first run as a trials file: the same trials, the same metrics.
  const AppRun again = eval(ckpt_ + " --no-figures --trials-file " + first + "/eval.h5 --out " +
                            (dir_ / "b").string());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const auto figures = [](const fs::path& path) {
    const test::Json doc = test::parse_json(read_text(path)).value_or(test::Json::object());
    test::Json out = test::Json::object();
    for (const char* key : {"n_trials", "loss", "accuracy", "accuracy_ctx1", "accuracy_ctx2"}) {
      out[key] = doc.value(key, test::Json());
    }
    return out;
  };
  test::Json a = figures(dir_ / "a" / "metrics.json");
  EXPECT_EQ(a["n_trials"], 24) << a;
  EXPECT_TRUE(a["loss"].is_number()) << a;
  EXPECT_EQ(a, figures(dir_ / "b" / "metrics.json"));
  const AppRun rk =
      eval(ckpt_ + " --trials 24 --no-figures --integrator rk45 --out " + (dir_ / "c").string());
  ASSERT_EQ(rk.exit_code, 0) << rk.output;
  EXPECT_EQ(
      test::parse_json(read_text(dir_ / "c" / "metrics.json")).value_or(test::Json())["integrator"],
      "rk45");
}

TEST_F(E2eEval, RecurrentNoiseOfTheCheckpointAndItsOverride) {
  // The same network saved with rnn.noise_std = 0.5: evaluated with that noise by default;
  // --noise-std 0 gives the deterministic network's numbers, and is what rk45 needs.
  Config c = parse_config(read_checkpoint_info(ckpt_).meta.config_yaml, "stored");
  c.rnn.noise_std = 0.5;
  const auto loaded = load_checkpoint<float>(ckpt_);
  CheckpointMeta meta;
  meta.config_yaml = to_yaml(c);
  const std::string noisy = (dir_ / "noisy.h5").string();
  save_checkpoint(noisy, loaded.net, loaded.adam, meta);

  const auto loss_line = [](const std::string& json) {
    return test::parse_json(json).value_or(test::Json::object()).value("loss", test::Json());
  };
  const auto run_eval = [&](const std::string& ckpt, const std::string& args,
                            const std::string& out) {
    const AppRun r =
        eval(ckpt + " --trials 24 --no-figures " + args + " --out " + (dir_ / out).string());
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.output;
    return read_text(dir_ / out / "metrics.json");
  };
  const std::string plain = run_eval(ckpt_, "", "plain");
  const std::string with_noise = run_eval(noisy, "", "noisy");
  const std::string without = run_eval(noisy, "--noise-std 0", "without");
  EXPECT_EQ(test::parse_json(with_noise).value_or(test::Json::object()).value("noise_std", -1.0),
            0.5)
      << with_noise;
  ASSERT_TRUE(loss_line(plain).is_number()) << plain;
  EXPECT_NE(loss_line(with_noise), loss_line(plain));
  EXPECT_EQ(loss_line(without), loss_line(plain));
  // The test split's noise is fixed: the same numbers a second time.
  EXPECT_EQ(loss_line(run_eval(noisy, "", "again")), loss_line(with_noise));

  const AppRun rk =
      eval(noisy + " --trials 8 --no-figures --integrator rk45 --out " + (dir_ / "rk").string());
  EXPECT_EQ(rk.exit_code, 2) << rk.output;
  EXPECT_EQ(test::count_lines(rk.output), 1) << rk.output;
  EXPECT_NE(rk.output.find("rnn.noise_std = 0.5"), std::string::npos) << rk.output;
  EXPECT_NE(rk.output.find("--noise-std 0"), std::string::npos) << rk.output;
  run_eval(noisy, "--integrator rk45 --noise-std 0", "rk0");

  for (const std::string flag : {"--noise-std", "--input-noise-std", "--stim-std"}) {
    const AppRun bad = eval(ckpt_ + " " + flag + " -1");
    EXPECT_EQ(bad.exit_code, 2) << bad.output;
    EXPECT_EQ(test::count_lines(bad.output), 1) << bad.output;
    EXPECT_NE(bad.output.find(flag), std::string::npos) << bad.output;
  }
}

TEST_F(E2eEval, BadInputExitsTwoWithOneLine) {
  const std::string text = (dir_ / "text.h5").string();
  std::ofstream(text) << "not hdf5";
  const std::string nan_trials = (dir_ / "nan.h5").string();
  {
    H5::H5File f(nan_trials, H5F_ACC_TRUNC);
    const hsize_t du[3] = {2, 30, 4}, dl[1] = {2};
    std::vector<double> u(2 * 30 * 4, 0.1);
    u[17] = std::nan("");
    f.createDataSet("u", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(3, du))
        .write(u.data(), H5::PredType::NATIVE_DOUBLE);
    const double label[2] = {1, -1};
    f.createDataSet("label", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(1, dl))
        .write(label, H5::PredType::NATIVE_DOUBLE);
  }
  struct Case {
    std::string args, expect;
  };
  for (const Case& c : std::vector<Case>{
           {(dir_ / "missing.h5").string(), "missing.h5: no such file"},
           {text, "text.h5: not an HDF5 file"},
           {ckpt_ + " --trials-file " + nan_trials, "/u"},
           {ckpt_ + " --integrator midpoint", "--integrator"},
           {ckpt_ + " --coherences 0.1,-2", "--coherences"},
           {ckpt_ + " --trials 0", "--trials"},
       }) {
    const AppRun r = eval(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(test::count_lines(r.output), 1) << c.args << "\n" << r.output;
  }
}

TEST(E2eEvalHelp, ExplainsTheOutputs) {
  const AppRun r = test::run_app(LRNN_EVAL_EXE, "--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* s : {"--trials-file", "--integrator", "--coherences", "eval.h5", "Exit codes"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace lrnn
