// End-to-end: run the real lrnn-inspect on a tiny checkpoint written here and read what it prints.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "lrnn/io/checkpoint.hpp"
#include "lrnn/io/config.hpp"
#include "support/app_run.hpp"
#include "support/files.hpp"
#include "support/tiny_config.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;
using test::count_lines;
using test::read_text;

const std::string kTiny = test::tiny_config_yaml(R"(  threads: 1
)");

// N = 24, R = 2, d_in = 4: 2NR + N d_in + N + 1 trainable, N² fixed.
constexpr int kTrainable = 2 * 24 * 2 + 24 * 4 + 24 + 1;
constexpr int kFixed = 24 * 24;

// The python3 on PATH, if any: its json module is a strict, independent parser.
bool have_python() { return std::system("python3 -c 'import json' >/dev/null 2>&1") == 0; }

class E2eInspect : public ::testing::Test {
 protected:
  using AppRun = test::AppRun;

  void SetUp() override {
    // ctest runs the cases of this file in parallel processes: one directory per process.
    dir_ = fs::temp_directory_path() / ("lrnn_e2e_inspect_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const Config config = parse_config(kTiny, "tiny");
    const Network<float> net = init_network<float>(config.rnn, 5);
    CheckpointMeta meta;
    meta.step = 7;
    meta.seed = config.training.seed;
    meta.precision = Precision::kFloat32;
    meta.config_yaml = to_yaml(config);
    save_checkpoint(checkpoint(), net, AdamState<float>(net.theta.layout().total()), meta);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string checkpoint() const { return (dir_ / "tiny.h5").string(); }

  AppRun run(const std::string& args) { return test::run_app(LRNN_INSPECT_EXE, args); }

  // Runs a python3 script on the JSON text; returns its exit code (0: every assert held).
  int check_json(const std::string& json, const std::string& asserts) {
    const fs::path doc = dir_ / "doc.json", script = dir_ / "check.py";
    std::ofstream(doc) << json;
    std::ofstream(script) << "import json, sys\nd = json.load(open(sys.argv[1]))\n" << asserts;
    return std::system(("python3 " + script.string() + " " + doc.string()).c_str());
  }

  fs::path dir_;
};

TEST_F(E2eInspect, TableShowsEverySection) {
  const AppRun r = run(checkpoint());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* text : {"network", "parameters", "overlap matrix", "J outlier", "bulk radius",
                           "input overlaps", "readout overlaps", "norms", "singular values"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("trainable " + std::string(10 - std::to_string(kTrainable).size(), ' ') +
                       std::to_string(kTrainable)),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.err, "");
}

TEST_F(E2eInspect, JsonIsOneDocumentWithTheNumbers) {
  const AppRun r = run(checkpoint() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_EQ(count_lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("\"trainable\": " + std::to_string(kTrainable)), std::string::npos);
  EXPECT_EQ(r.out.find("resample"), std::string::npos);
  if (!have_python()) GTEST_SKIP() << "python3 not available to parse the JSON";
  EXPECT_EQ(check_json(r.out,
                       "lr = d['low_rank']\n"
                       "assert d['step'] == 7 and d['precision'] == 'float32'\n"
                       "assert lr['N'] == 24 and lr['R'] == 2 and lr['d_in'] == 4\n"
                       "assert lr['parameters']['trainable'] == " +
                           std::to_string(kTrainable) +
                           "\n"
                           "assert lr['parameters']['fixed'] == " +
                           std::to_string(kFixed) +
                           "\n"
                           "assert len(lr['overlap']) == 2 and len(lr['overlap'][0]) == 2\n"
                           "assert set(lr['overlap_eigenvalues'][0]) == {'re', 'im'}\n"
                           "assert lr['J_computed'] is True and len(lr['J_outliers']) == 2\n"
                           "assert 0 < lr['bulk_edge'] < 2\n"
                           "assert len(lr['input_overlap_n']) == 2\n"
                           "assert len(lr['input_overlap_n'][0]) == 4\n"
                           "assert len(lr['norms']['B']) == 4\n"
                           "assert len(lr['singular_values']) == 2\n"),
            0)
      << r.out;
}

TEST_F(E2eInspect, ResampleReportsAccuracies) {
  const AppRun r = run(checkpoint() + " --resample 3 --trials 32 --threads 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("\"per_network\""), std::string::npos);
  if (have_python()) {
    EXPECT_EQ(
        check_json(r.out,
                   "s = d['resample']\n"
                   "assert s['networks'] == 3 and s['trials'] == 32 and s['split'] == 'test'\n"
                   "assert len(s['per_network']) == 3\n"
                   "accs = [p['accuracy'] for p in s['per_network']]\n"
                   "assert all(0 <= a <= 1 for a in accs), accs\n"
                   "assert 0 <= s['trained']['accuracy'] <= 1\n"
                   "assert abs(s['accuracy']['mean'] - sum(accs) / 3) < 1e-8\n"
                   "assert s['accuracy']['min'] == min(accs)\n"
                   "assert s['accuracy']['max'] == max(accs)\n"
                   "assert 0 <= s['accuracy_ctx1']['mean'] <= 1\n"
                   "assert len(s['fit']['mean']) == 9 and len(s['fit']['cov']) == 9\n"),
        0)
        << r.out;
  }
  // The table says the same.
  const AppRun table = run(checkpoint() + " --resample 3 --trials 32 --threads 1");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  const auto at = table.out.find("resampled: mean");
  ASSERT_NE(at, std::string::npos) << table.out;
  std::istringstream row(table.out.substr(at + std::string("resampled: mean").size()));
  double overall = -1.0, ctx1 = -1.0, ctx2 = -1.0;
  row >> overall >> ctx1 >> ctx2;
  for (const double a : {overall, ctx1, ctx2}) {
    EXPECT_GE(a, 0.0) << table.out;
    EXPECT_LE(a, 1.0) << table.out;
  }
}

TEST_F(E2eInspect, BadInputExitsWithTwoAndOneLine) {
  const fs::path text = dir_ / "notes.h5";
  std::ofstream(text) << "not a checkpoint\n";
  struct Case {
    std::string name, args, expect;
  };
  const std::vector<Case> cases = {
      {"missing file", (dir_ / "absent.h5").string(), "absent.h5"},
      {"not hdf5", text.string(), "not an HDF5 file"},
      {"no arguments", "", "checkpoint"},
      {"zero networks", checkpoint() + " --resample 0", "--resample"},
      {"trials without resample", checkpoint() + " --trials 5", "--trials"},
      {"unknown flag", checkpoint() + " --frobnicate", "frobnicate"},
  };
  for (const auto& c : cases) {
    const AppRun r = run(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.name << ": " << r.err;
    EXPECT_EQ(r.out, "") << c.name;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.name << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << c.name << ": not one line: " << r.err;
  }
}

TEST_F(E2eInspect, HelpExplainsEveryFlag) {
  const AppRun r = run("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--json", "--resample", "--trials", "--threads", "--seed", "--eigs",
                           "Exit codes", "outlier"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace lrnn
