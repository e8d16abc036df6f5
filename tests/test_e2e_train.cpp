// End-to-end: run the real lrnn-train on small configs and read what it writes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lrnn/io/checkpoint.hpp"
#include "support/app_run.hpp"
#include "support/json.hpp"
#include "support/process.hpp"
#include "support/tiny_config.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;

using test::AppRun;

AppRun run_train(const std::string& args) { return test::run_app(LRNN_TRAIN_EXE, args); }

// Everything these tests write goes under one directory per process (ctest runs the cases in
// parallel processes), removed when the process ends.
const fs::path& scratch() {
  static const test::ScratchDir dir("train");
  return dir.path();
}

fs::path write_config(const std::string& name, const std::string& text) {
  const fs::path p = scratch() / ("lrnn_e2e_" + name + ".yaml");
  std::ofstream(p) << text;
  return p;
}

const std::string kTiny = test::tiny_config_yaml(R"(  batch_size: 8
  n_train_trials: 160
  n_val_trials: 32
  eval_every: 10
  save_every: 10
  threads: 1
)");

TEST(E2eTrain, WritesTheRunDirectory) {
  const fs::path dir = scratch() / "lrnn_e2e_run";
  fs::remove_all(dir);
  const fs::path cfg = write_config("tiny", kTiny);
  const AppRun r =
      run_train(cfg.string() + " --out " + dir.string() + " --set training.learning_rate=0.02");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f :
       {"config.yaml", "metrics.jsonl", "train.log", "best.h5", "final.h5",
        "checkpoints/step_000000.h5", "checkpoints/step_000010.h5", "checkpoints/step_000020.h5"}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  // One metrics line per step, validation on steps 10 and 20.
  const std::vector<test::Json> lines = test::read_json_lines((dir / "metrics.jsonl").string());
  int with_val = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    ASSERT_TRUE(lines[i].is_object()) << "line " << i + 1 << " is not a JSON object";
    EXPECT_EQ(lines[i].at("step"), static_cast<std::int64_t>(i + 1));
    with_val += lines[i].contains("val_accuracy") ? 1 : 0;
    EXPECT_TRUE(lines[i].at("grad_norm").is_number()) << lines[i];
  }
  EXPECT_EQ(lines.size(), 20u);
  EXPECT_EQ(with_val, 2);
  // The resolved config holds the override, and so does the checkpoint.
  std::ifstream cfg_in(dir / "config.yaml");
  std::stringstream cfg_text;
  cfg_text << cfg_in.rdbuf();
  EXPECT_NE(cfg_text.str().find("learning_rate: 0.02"), std::string::npos) << cfg_text.str();
  const auto ck = load_checkpoint<float>((dir / "final.h5").string());
  EXPECT_EQ(ck.info.meta.config_yaml, cfg_text.str());
  EXPECT_EQ(ck.info.dims.N, 24);
  EXPECT_EQ(ck.info.meta.step, 20);
  EXPECT_NE(r.output.find("final validation"), std::string::npos) << r.output;
}

TEST(E2eTrain, BadInputExitsWithTwoAndOneLine) {
  struct Case {
    std::string name, args, expect;
  };
  const fs::path tiny = write_config("tiny2", kTiny);
  const fs::path unknown = write_config("unknown", "rnn:\n  NN: 3\n");
  const fs::path notyaml = write_config("notyaml", "rnn: [1, 2\n");
  const fs::path text = scratch() / "lrnn_e2e_not_h5.h5";
  std::ofstream(text) << "not a checkpoint\n";
  const fs::path empty = write_config("empty", "# nothing but a comment\n");
  // A real checkpoint cut in half, as a crash during a copy would leave it.
  const fs::path good_dir = scratch() / "lrnn_e2e_for_truncation";
  fs::remove_all(good_dir);
  EXPECT_EQ(run_train(tiny.string() + " --out " + good_dir.string()).exit_code, 0);
  const fs::path truncated = scratch() / "lrnn_e2e_truncated.h5";
  fs::copy_file(good_dir / "final.h5", truncated, fs::copy_options::overwrite_existing);
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  const std::vector<Case> cases = {
      {"missing config", "/nonexistent/x.yaml", "x.yaml"},
      {"unknown key", unknown.string(), "did you mean 'rnn.N'"},
      {"malformed", notyaml.string(), "lrnn_e2e_notyaml.yaml:"},
      {"bad override", tiny.string() + " --set rnn.N=0", "rnn.N"},
      {"unwritable out", tiny.string() + " --out /proc/lrnn_cannot", "/proc/lrnn_cannot"},
      {"missing resume",
       tiny.string() + " --out " + (scratch() / "lrnn_e2e_r1").string() +
           " --resume /nonexistent.h5",
       "/nonexistent.h5"},
      {"resume not hdf5",
       tiny.string() + " --out " + (scratch() / "lrnn_e2e_r2").string() + " --resume " +
           text.string(),
       "not an HDF5 file"},
      {"no arguments", "", "config"},
      {"empty config", empty.string(), "lrnn_e2e_empty.yaml"},
      {"config is a directory", scratch().string(), scratch().string()},
      {"resume truncated",
       tiny.string() + " --out " + (scratch() / "lrnn_e2e_r3").string() + " --resume " +
           truncated.string(),
       "lrnn_e2e_truncated.h5"},
      {"unknown flag", tiny.string() + " --frobnicate", "frobnicate"},
  };
  for (const auto& c : cases) {
    const AppRun r = run_train(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.name << ": " << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.name << ": " << r.output;
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << c.name;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1)
        << c.name << ": not one line: " << r.output;
  }
}

TEST(E2eTrain, DivergenceExitsWithOne) {
  const fs::path dir = scratch() / "lrnn_e2e_diverge";
  fs::remove_all(dir);
  const fs::path cfg = write_config("diverge", kTiny);
  const AppRun r = run_train(cfg.string() + " --out " + dir.string() +
                             " --set rnn.M_init_std=1e25 --set rnn.N_init_std=1e25");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("step 1: the loss is"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "checkpoints/step_000000.h5"));
}

// SIGINT finishes the step, writes a checkpoint and exits with 130; --resume then completes.
TEST(E2eTrain, SigintCheckpointsAndResumeFinishes) {
  const fs::path dir = scratch() / "lrnn_e2e_sigint";
  fs::remove_all(dir);
  const fs::path cfg = write_config("sigint", kTiny);
  const std::string exe = LRNN_TRAIN_EXE;
  const std::string out = dir.string();
  const std::string log = (scratch() / "lrnn_e2e_sigint.txt").string();
  // Enough steps that the run is still going when the signal arrives.
  const std::string sets =
      " --set training.n_train_trials=40000 --set training.eval_every=1000"
      " --set training.save_every=1000";
  std::vector<std::string> args = {exe,     cfg.string(),
                                   "--out", out,
                                   "--set", "training.n_train_trials=40000",
                                   "--set", "training.eval_every=1000",
                                   "--set", "training.save_every=1000"};
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (std::freopen(log.c_str(), "w", stderr) == nullptr) _exit(99);
    execv(exe.c_str(), argv.data());
    _exit(98);
  }
  // Wait for a few steps to be logged.
  const fs::path metrics = dir / "metrics.jsonl";
  for (int i = 0; i < 2000; ++i) {
    std::ifstream in(metrics);
    int lines = 0;
    for (std::string l; std::getline(in, l);) ++lines;
    if (lines >= 3) break;
    usleep(5000);
  }
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  // The newest checkpoint is the step the run stopped at.
  std::string newest;
  for (const auto& e : fs::directory_iterator(dir / "checkpoints")) {
    if (e.path().string() > newest) newest = e.path().string();
  }
  ASSERT_FALSE(newest.empty());
  const auto info = read_checkpoint_info(newest);
  EXPECT_GT(info.meta.step, 0);
  EXPECT_LT(info.meta.step, 5000);
  // Resume with fewer trials is another config: refused with exit code 2.
  const AppRun bad = run_train(cfg.string() + " --out " + out + " --resume " + newest);
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("n_train_trials"), std::string::npos) << bad.output;
  // The same config resumes and finishes all 5000 steps.
  const AppRun good = run_train(cfg.string() + " --out " + out + sets + " --resume " + newest);
  ASSERT_EQ(good.exit_code, 0) << good.output;
  EXPECT_EQ(read_checkpoint_info((dir / "final.h5").string()).meta.step, 5000);
  std::ifstream in(metrics);
  int lines = 0;
  for (std::string l; std::getline(in, l);) ++lines;
  EXPECT_EQ(lines, 5000);  // no step logged twice, none missing
}

// The stop rule ends a run that has learned: exit 0, final.h5 and the last checkpoint are the
// stopping step, and the log says why it stopped. A threshold of 0.01 is met by any network that
// is not wrong on every trial of a context, so the first validation (step 10 of 20) stops it.
TEST(E2eTrain, StopRuleEndsTheRunEarlyAndSaysWhy) {
  const fs::path dir = scratch() / "lrnn_e2e_stop_rule";
  fs::remove_all(dir);
  const fs::path cfg = write_config("stop_rule", kTiny);
  const AppRun r = run_train(cfg.string() + " --out " + dir.string() +
                             " --set training.stop_at_val_accuracy=0.01");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string why =
      "stopped early at step 10 of 20: validation accuracy >= 0.01 in every context for 1 "
      "validation in a row (training.stop_at_val_accuracy, training.stop_patience)";
  EXPECT_NE(r.output.find(why), std::string::npos) << r.output;
  EXPECT_NE(test::read_text((dir / "train.log").string()).find(why), std::string::npos);
  EXPECT_EQ(read_checkpoint_info((dir / "final.h5").string()).meta.step, 10);
  EXPECT_TRUE(fs::exists(dir / "checkpoints/step_000010.h5"));
  EXPECT_FALSE(fs::exists(dir / "checkpoints/step_000020.h5"));
  EXPECT_EQ(test::count_lines(test::read_text((dir / "metrics.jsonl").string())), 10);
}

// training.precision: bf16 and integrator.method: tsit5 run end to end; bf16 names the kernel of
// its bulk products in the log, and LRNN_BF16_FALLBACK=1 forces lrnn's own fallback, which warns.
TEST(E2eTrain, Bf16AndTsit5Run) {
  const fs::path cfg = write_config("bf16", kTiny);
  struct Case {
    std::string name, env, sets, expect;
  };
  const std::vector<Case> cases = {
      {"bf16", "", " --set training.precision=bf16", "bf16 bulk product: "},
      {"bf16_fallback", "LRNN_BF16_FALLBACK=1 ", " --set training.precision=bf16",
       "bf16 bulk product: lrnn fallback (LRNN_BF16_FALLBACK is set): slow"},
      {"tsit5_adjoint", "",
       " --set integrator.method=tsit5 --set integrator.gradient=adjoint --set "
       "integrator.rtol=1e-3",
       "done: 20 steps"},
      {"tsit5_bf16", "",
       " --set integrator.method=tsit5 --set integrator.rtol=1e-3 --set training.precision=bf16",
       "bf16 bulk product: "},
  };
  for (const Case& c : cases) {
    const fs::path dir = scratch() / ("lrnn_e2e_" + c.name);
    fs::remove_all(dir);
    const AppRun r =
        test::run_app(c.env + LRNN_TRAIN_EXE, cfg.string() + " --out " + dir.string() + c.sets);
    ASSERT_EQ(r.exit_code, 0) << c.name << ": " << r.output;
    const std::string log = test::read_text((dir / "train.log").string());
    EXPECT_NE(log.find(c.expect), std::string::npos) << c.name << ": " << log;
    const auto info = read_checkpoint_info((dir / "final.h5").string());
    EXPECT_EQ(info.meta.step, 20) << c.name;
    const bool bf16 = c.sets.find("bf16") != std::string::npos;
    EXPECT_EQ(info.meta.precision, bf16 ? Precision::kBf16 : Precision::kFloat32) << c.name;
  }
}

// A second run into the same directory would overwrite the first run's checkpoints: refused.
TEST(E2eTrain, ExistingRunIsNotOverwritten) {
  const fs::path dir = scratch() / "lrnn_e2e_twice";
  fs::remove_all(dir);
  const fs::path cfg = write_config("twice", kTiny);
  ASSERT_EQ(run_train(cfg.string() + " --out " + dir.string()).exit_code, 0);
  const auto before = fs::last_write_time(dir / "final.h5");
  const AppRun again = run_train(cfg.string() + " --out " + dir.string());
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("already holds a run"), std::string::npos) << again.output;
  EXPECT_EQ(fs::last_write_time(dir / "final.h5"), before);
  const AppRun forced = run_train(cfg.string() + " --out " + dir.string() + " --overwrite");
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  std::ifstream in(dir / "metrics.jsonl");
  int lines = 0;
  for (std::string l; std::getline(in, l);) ++lines;
  EXPECT_EQ(lines, 20);  // the new run's steps only
}

}  // namespace
}  // namespace lrnn
