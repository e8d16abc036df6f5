// End-to-end: run the real lrnn-inspect on a tiny checkpoint written here and read what it prints.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "support/app_run.hpp"
#include "support/files.hpp"
#include "support/json.hpp"
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
  EXPECT_EQ(count_lines(r.out), 1) << r.out;
  std::optional<test::Json> doc = test::parse_json(r.out);
  ASSERT_TRUE(doc.has_value()) << "not one JSON document:\n" << r.out;
  EXPECT_FALSE(doc->contains("resample"));
  EXPECT_EQ((*doc)["step"], 7);
  EXPECT_EQ((*doc)["precision"], "float32");
  test::Json& lr = (*doc)["low_rank"];
  EXPECT_EQ(lr["N"], 24);
  EXPECT_EQ(lr["R"], 2);
  EXPECT_EQ(lr["d_in"], 4);
  EXPECT_EQ(lr["parameters"]["trainable"], kTrainable);
  EXPECT_EQ(lr["parameters"]["fixed"], kFixed);
  ASSERT_EQ(lr["overlap"].size(), 2u);
  EXPECT_EQ(lr["overlap"][0].size(), 2u);
  EXPECT_EQ(test::keys_of(lr["overlap_eigenvalues"][0]), (std::vector<std::string>{"re", "im"}));
  EXPECT_EQ(lr["J_computed"], true);
  EXPECT_EQ(lr["J_outliers"].size(), 2u);
  EXPECT_GT(lr["bulk_edge"].get<double>(), 0.0);
  EXPECT_LT(lr["bulk_edge"].get<double>(), 2.0);
  ASSERT_EQ(lr["input_overlap_n"].size(), 2u);
  EXPECT_EQ(lr["input_overlap_n"][0].size(), 4u);
  EXPECT_EQ(lr["norms"]["B"].size(), 4u);
  EXPECT_EQ(lr["singular_values"].size(), 2u);
}

TEST_F(E2eInspect, ResampleReportsAccuracies) {
  const AppRun r = run(checkpoint() + " --resample 3 --trials 32 --threads 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 1) << r.out;
  std::optional<test::Json> doc = test::parse_json(r.out);
  ASSERT_TRUE(doc.has_value()) << "not one JSON document:\n" << r.out;
  test::Json& s = (*doc)["resample"];
  EXPECT_EQ(s["networks"], 3);
  EXPECT_EQ(s["trials"], 32);
  EXPECT_EQ(s["split"], "test");
  ASSERT_EQ(s["per_network"].size(), 3u);
  std::vector<double> accs;
  for (const test::Json& p : s["per_network"]) accs.push_back(p.at("accuracy").get<double>());
  for (const double a : accs) {
    EXPECT_GE(a, 0.0);
    EXPECT_LE(a, 1.0);
  }
  EXPECT_GE(s["trained"]["accuracy"].get<double>(), 0.0);
  EXPECT_LE(s["trained"]["accuracy"].get<double>(), 1.0);
  // The spread is of the per-network figures (printed to 9 digits).
  constexpr double kPrinted = 1e-8;
  EXPECT_NEAR(s["accuracy"]["mean"].get<double>(), (accs[0] + accs[1] + accs[2]) / 3, kPrinted);
  EXPECT_EQ(s["accuracy"]["min"].get<double>(), *std::min_element(accs.begin(), accs.end()));
  EXPECT_EQ(s["accuracy"]["max"].get<double>(), *std::max_element(accs.begin(), accs.end()));
  EXPECT_GE(s["accuracy_ctx1"]["mean"].get<double>(), 0.0);
  EXPECT_LE(s["accuracy_ctx1"]["mean"].get<double>(), 1.0);
  EXPECT_EQ(s["fit"]["mean"].size(), 9u);
  EXPECT_EQ(s["fit"]["cov"].size(), 9u);
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

TEST_F(E2eInspect, FixedPointsWritesTheJsonAndEveryTrialLandsOnAStablePoint) {
  const fs::path out = dir_ / "dynamics";
  const AppRun r =
      run(checkpoint() + " --fixed-points --starts 16 --threads 2 --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("fixed points"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("10/10 trials end on a reported stable point"), std::string::npos) << r.out;
  std::optional<test::Json> doc = test::parse_json(read_text(out / "fixed_points.json"));
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ((*doc)["N"], 24);
  EXPECT_EQ((*doc)["options"]["starts"], 16);
  ASSERT_EQ((*doc)["conditions"].size(), 10u);
  const test::Json& c = (*doc)["conditions"][1];
  EXPECT_EQ(c["name"], "ctx1 s1+ s2+");
  EXPECT_EQ(c["target"], 1);
  EXPECT_EQ(c["u"].size(), 4u);
  ASSERT_GE(c["points"].size(), 1u);
  const test::Json& p = c["points"][0];
  for (const char* key :
       {"kind", "root", "unstable", "kappa", "coords", "y", "readout_correct", "F_norm", "q",
        "eigenvalues", "eigenvalue_residuals", "starts", "trial_ends_here", "x"}) {
    EXPECT_TRUE(p.contains(key)) << key;
  }
  EXPECT_EQ(p["x"].size(), 24u);
  EXPECT_EQ(p["kappa"].size(), 2u);
  EXPECT_TRUE(c["trial"]["lands_on_stable_point"].get<bool>());
  ASSERT_TRUE(c.contains("mean_field"));
  for (const test::Json& m : c["mean_field"]) {
    EXPECT_EQ(m["kappa"].size(), 2u);
    EXPECT_GE(m["kappa_distance"].get<double>(), 0.0);
  }
  EXPECT_LE(c["trial"]["kappa_distance"].get<double>(), 1e-4);
  // --input: one condition, also in --json on stdout.
  const AppRun one = run(checkpoint() +
                         " --fixed-points --starts 8 --threads 1 --json --input "
                         "0.5,-0.5,0.08,-0.14 --out " +
                         out.string());
  ASSERT_EQ(one.exit_code, 0) << one.err;
  std::optional<test::Json> d1 = test::parse_json(one.out);
  ASSERT_TRUE(d1.has_value()) << one.out;
  ASSERT_EQ((*d1)["fixed_points"]["conditions"].size(), 1u);
  EXPECT_EQ((*d1)["fixed_points"]["conditions"][0]["u"][0], 0.5);
}

TEST_F(E2eInspect, TruncateToFullRankKeepsTheAccuracy) {
  const AppRun r = run(checkpoint() + " --truncate 2 --trials 32 --threads 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::optional<test::Json> doc = test::parse_json(r.out);
  ASSERT_TRUE(doc.has_value()) << r.out;
  const test::Json& t = (*doc)["truncate"];
  EXPECT_EQ(t["rank"], 2);
  EXPECT_EQ(t["singular_values"].size(), 2u);
  // r = R is the same network in other factors: the same decisions up to a trial at the boundary
  // (float32 rounding), the loss to rounding.
  EXPECT_NEAR(t["truncated"]["accuracy"].get<double>(), t["trained"]["accuracy"].get<double>(),
              1.0 / 32 + 1e-12);
  EXPECT_NEAR(t["truncated"]["loss"].get<double>(), t["trained"]["loss"].get<double>(), 1e-4);
  EXPECT_NEAR(t["relative_error"].get<double>(), 0.0, 1e-12);
  const AppRun one = run(checkpoint() + " --truncate 1 --trials 32 --threads 1");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("truncated to rank 1"), std::string::npos) << one.out;
}

TEST_F(E2eInspect, PopulationsAutoFitsOneToFourAndEvaluatesBothBulks) {
  const AppRun r =
      run(checkpoint() + " --resample 2 --populations auto --trials 16 --threads 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::optional<test::Json> doc = test::parse_json(r.out);
  ASSERT_TRUE(doc.has_value()) << r.out;
  const test::Json& p = (*doc)["populations"];
  ASSERT_EQ(p["rows"].size(), 4u);
  double lowest = 1e300;
  int best = 0;
  for (int k = 0; k < 4; ++k) {
    const test::Json& row = p["rows"][static_cast<std::size_t>(k)];
    EXPECT_EQ(row["populations"], k + 1);
    EXPECT_EQ(row["weights"].size(), static_cast<std::size_t>(k + 1));
    EXPECT_EQ(row["per_network_kept_C"].size(), 2u);
    EXPECT_EQ(row["per_network_redrawn_C"].size(), 2u);
    if (row["bic"].get<double>() < lowest) {
      lowest = row["bic"].get<double>();
      best = k + 1;
    }
  }
  EXPECT_EQ(p["best_bic_populations"], best);
  EXPECT_FALSE(doc->contains("resample"));  // the mixtures replace the single Gaussian
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
      {"input without fixed points", checkpoint() + " --input 0,0,0.08,-0.14", "--input"},
      {"starts without fixed points", checkpoint() + " --starts 16", "--starts"},
      {"out without fixed points", checkpoint() + " --out " + (dir_ / "o").string(), "--out"},
      {"input too short", checkpoint() + " --fixed-points --input 1,2", "needs 4 numbers"},
      {"input not a number", checkpoint() + " --fixed-points --input 1,x,0,0", "--input"},
      {"too few starts", checkpoint() + " --fixed-points --starts 2", "--starts"},
      {"truncate zero", checkpoint() + " --truncate 0", "--truncate"},
      {"truncate above R", checkpoint() + " --truncate 3", "rank R = 2"},
      {"truncate not a number", checkpoint() + " --truncate two", "--truncate"},
      {"populations without resample", checkpoint() + " --populations 2", "--populations"},
      {"populations zero", checkpoint() + " --resample 2 --populations 0", "--populations 0"},
      {"populations word", checkpoint() + " --resample 2 --populations many", "or auto"},
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
  for (const char* flag :
       {"--json", "--resample", "--trials", "--threads", "--seed", "--eigs", "--fixed-points",
        "--input", "--starts", "--out", "--truncate", "Exit codes", "outlier"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace lrnn
