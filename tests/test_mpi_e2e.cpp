// End-to-end under mpirun (built with -DLRNN_WITH_MPI=ON; ctest label "mpi"): data-parallel
// lrnn-train over 2 ranks gives the one-process loss curve and parameters up to summation order;
// threads within ranks; a rank with another config, a failing rank and a signalled rank end the
// job with a message instead of a hang; lrnn-sweep spreads its runs over the ranks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "lrnn/io/checkpoint.hpp"
#include "support/app_run.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;

// A job that has not ended after this long hangs: `timeout` ends it with exit code 124.
constexpr int kHangSeconds = 120;
constexpr int kTimedOut = 124;

// mpirun of OpenMPI: as root it needs --allow-run-as-root; --oversubscribe allows more ranks than
// cores; --bind-to none lets a rank's threads use every core.
std::string mpirun(int ranks) {
  return "timeout -k 5 " + std::to_string(kHangSeconds) +
         " " LRNN_MPIEXEC " --allow-run-as-root --oversubscribe --bind-to none -np " +
         std::to_string(ranks) + " ";
}

test::AppRun run(const std::string& cmd) { return test::run_app(cmd, ""); }

// 80 trials a batch are 5 blocks of 16: rank 0 solves and sums two, rank 1 three.
std::string tiny_config(const test::ScratchDir& dir, const std::string& precision,
                        const std::string& extra = "") {
  const fs::path p = dir.path() / ("tiny_" + precision + ".yaml");
  std::ofstream(p) << "rnn:\n  N: 24\ntask:\n  T_burn: 2\n  T_stim: 6\n  T_avg: 2\n"
                      "training:\n  batch_size: 80\n  n_train_trials: 800\n  n_val_trials: 40\n"
                      "  eval_every: 5\n  save_every: 5\n  threads: 1\n  precision: "
                   << precision << "\n"
                   << extra;
  return p.string();
}

// `key` of every line of a metrics.jsonl that has it.
std::vector<double> column(const fs::path& metrics, const std::string& key) {
  std::vector<double> out;
  for (const test::Json& line : test::read_json_lines(metrics.string())) {
    if (line.contains(key)) out.push_back(test::number_of(line, key));
  }
  return out;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0.0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    worst = std::max(worst, std::fabs(a[i] - b[i]) / std::max(std::fabs(b[i]), 1e-300));
  }
  return worst;
}

struct Case {
  const char* precision;
  double tolerance;  ///< relative, on every loss and on the parameter vector
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.precision; }

class DataParallel : public ::testing::TestWithParam<Case> {};

TEST_P(DataParallel, TwoRanksGiveTheOneProcessCurveAndParameters) {
  const Case c = GetParam();
  const test::ScratchDir dir(std::string("mpi_dp_") + c.precision);
  const std::string cfg = tiny_config(dir, c.precision);
  const fs::path one = dir.path() / "one", two = dir.path() / "two";
  const test::AppRun a = run(std::string(LRNN_TRAIN_EXE) + " " + cfg + " --out " + one.string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const test::AppRun b = run(mpirun(2) + LRNN_TRAIN_EXE + " " + cfg + " --out " + two.string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("2 ranks x 1 threads"), std::string::npos) << b.output;

  // Rank 0 alone writes: one line per step, not two.
  const auto loss1 = column(one / "metrics.jsonl", "loss");
  const auto loss2 = column(two / "metrics.jsonl", "loss");
  ASSERT_EQ(loss1.size(), 10u);
  ASSERT_EQ(loss2.size(), 10u);
  EXPECT_LE(max_rel_diff(loss2, loss1), c.tolerance);
  const auto val1 = column(one / "metrics.jsonl", "val_loss");
  const auto val2 = column(two / "metrics.jsonl", "val_loss");
  ASSERT_EQ(val1.size(), 2u);
  ASSERT_EQ(val2.size(), 2u);
  EXPECT_LE(max_rel_diff(val2, val1), c.tolerance);
  EXPECT_EQ(column(one / "metrics.jsonl", "val_accuracy"),
            column(two / "metrics.jsonl", "val_accuracy"));

  const auto p1 = load_checkpoint<double>((one / "final.h5").string());
  const auto p2 = load_checkpoint<double>((two / "final.h5").string());
  const double rel =
      (p2.net.theta.flat() - p1.net.theta.flat()).norm() / p1.net.theta.flat().norm();
  EXPECT_LE(rel, c.tolerance);
  EXPECT_GT((p2.net.theta.flat() - p1.net.theta.flat()).size(), 0);
  EXPECT_EQ(p2.info.meta.step, 10);
  EXPECT_EQ(p1.info.meta.config_yaml.find("output"), p2.info.meta.config_yaml.find("output"));
}

// float64: the differences are the rounding of another summation order (1e-16 relative per sum),
// grown by 10 Adam steps; float32: each rank's partial sum is rounded to float before the double
// reduction, 1e-7 relative, grown likewise.
INSTANTIATE_TEST_SUITE_P(Precisions, DataParallel,
                         ::testing::Values(Case{"float64", 1e-10}, Case{"float32", 1e-4}),
                         [](const auto& param_info) {
                           return std::string(param_info.param.precision);
                         });

TEST(MpiTrain, OneRankUnderMpirunIsTheSerialRunBitForBit) {
  const test::ScratchDir dir("mpi_one");
  const std::string cfg = tiny_config(dir, "float64");
  const fs::path one = dir.path() / "one", mpi1 = dir.path() / "mpi1";
  ASSERT_EQ(run(std::string(LRNN_TRAIN_EXE) + " " + cfg + " --out " + one.string()).exit_code, 0);
  const test::AppRun r = run(mpirun(1) + LRNN_TRAIN_EXE + " " + cfg + " --out " + mpi1.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(column(one / "metrics.jsonl", "loss"), column(mpi1 / "metrics.jsonl", "loss"));
  const auto p1 = load_checkpoint<double>((one / "final.h5").string());
  const auto p2 = load_checkpoint<double>((mpi1 / "final.h5").string());
  EXPECT_TRUE((p1.net.theta.flat().array() == p2.net.theta.flat().array()).all());
}

TEST(MpiTrain, ThreadsWithinRanksGiveTheSameBits) {
  // 64 trials: 4 blocks, 2 per rank, so that 2 threads per rank both have one.
  const test::ScratchDir dir("mpi_threads");
  const std::string cfg = tiny_config(dir, "float32", "");
  const std::string set = " --set training.batch_size=64 --set training.n_train_trials=640";
  const fs::path t1 = dir.path() / "t1", t2 = dir.path() / "t2";
  const test::AppRun a =
      run(mpirun(2) + LRNN_TRAIN_EXE + " " + cfg + set + " --threads 1 --out " + t1.string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const test::AppRun b =
      run(mpirun(2) + LRNN_TRAIN_EXE + " " + cfg + set + " --threads 2 --out " + t2.string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("2 ranks x 2 threads"), std::string::npos) << b.output;
  const auto l1 = column(t1 / "metrics.jsonl", "loss");
  EXPECT_EQ(l1.size(), 10u);
  EXPECT_EQ(l1, column(t2 / "metrics.jsonl", "loss"));
  const auto p1 = load_checkpoint<float>((t1 / "final.h5").string());
  const auto p2 = load_checkpoint<float>((t2 / "final.h5").string());
  EXPECT_TRUE((p1.net.theta.flat().array() == p2.net.theta.flat().array()).all());
}

TEST(MpiTrain, ARankWithAnotherConfigEndsTheJobWithAMessage) {
  const test::ScratchDir dir("mpi_mismatch");
  const std::string cfg = tiny_config(dir, "float32");
  // Each rank gets its rank as seed: rank 1 trains another network.
  const test::AppRun r =
      run(mpirun(2) + "sh -c 'exec " + LRNN_TRAIN_EXE + " " + cfg + " --out " +
          (dir.path() / "run").string() + " --set training.seed=$OMPI_COMM_WORLD_RANK'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("rank 1: the config differs from rank 0's: 'training.seed: 1' here vs "
                          "'training.seed: 0' on rank 0"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "run" / "metrics.jsonl")) << "nothing trained";
}

TEST(MpiTrain, ARankThatFailsBringsTheJobDown) {
  // Rank 0 cannot write its step-10 checkpoint (a directory is in the way) while rank 1 goes on to
  // step 11's allreduce: without MPI_Abort rank 1 would wait there for ever.
  const test::ScratchDir dir("mpi_abort");
  const std::string cfg = tiny_config(dir, "float32");
  const std::string set = " --set training.n_train_trials=1600";  // 20 steps
  const fs::path first = dir.path() / "first", second = dir.path() / "second";
  ASSERT_EQ(
      run(std::string(LRNN_TRAIN_EXE) + " " + cfg + set + " --out " + first.string()).exit_code, 0);
  fs::create_directories(second / "checkpoints" / "step_000010.h5" / "in_the_way");
  fs::copy_file(first / "checkpoints" / "step_000005.h5", second / "start.h5");
  const test::AppRun r = run(mpirun(2) + LRNN_TRAIN_EXE + " " + cfg + set + " --out " +
                             second.string() + " --resume " + (second / "start.h5").string());
  ASSERT_NE(r.exit_code, kTimedOut) << "the job hung\n" << r.output;
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rank 0: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step_000010.h5"), std::string::npos) << r.output;
}

TEST(MpiTrain, ASignalOnOneRankStopsEveryRankAtTheSameStep) {
  const test::ScratchDir dir("mpi_signal");
  const fs::path cfg = dir.path() / "long.yaml";
  std::ofstream(cfg) << "rnn:\n  N: 100\ntask:\n  T_burn: 2\n  T_stim: 18\n  T_avg: 2\n"
                        "training:\n  batch_size: 32\n  n_train_trials: 3200\n  n_epochs: 100\n"
                        "  n_val_trials: 32\n  eval_every: 1000\n  save_every: 1000\n"
                        "  threads: 1\n";
  const fs::path out = dir.path() / "run";
  // Rank 1 sends itself SIGTERM once training has begun (rank 0 has written a metrics line; at
  // most a minute of waiting), so that a slow start cannot beat the signal handler; rank 0 hears
  // of it through the step's allreduce.
  const std::string metrics = (out / "metrics.jsonl").string();
  const test::AppRun r =
      run(mpirun(2) + "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (i=0; while [ ! -s " +
          metrics +
          " ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; sleep 0.5; kill -TERM $$) & fi; "
          "exec " +
          LRNN_TRAIN_EXE + " " + cfg.string() + " --out " + out.string() + "'");
  ASSERT_NE(r.exit_code, kTimedOut) << "the job hung\n" << r.output;
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(out / "final.h5")) << "the run was not stopped\n" << r.output;
  std::vector<fs::path> checkpoints;
  for (const auto& e : fs::directory_iterator(out / "checkpoints")) checkpoints.push_back(e.path());
  std::sort(checkpoints.begin(), checkpoints.end());
  ASSERT_EQ(checkpoints.size(), 2u) << r.output;  // step_000000.h5 and the interrupted step
  const auto ck = load_checkpoint<float>(checkpoints.back().string());
  EXPECT_GT(ck.info.meta.step, 0);
  EXPECT_LT(ck.info.meta.step, 10000);
  // Rank 0 wrote every step the ranks took together, and stopped where rank 1 stopped.
  EXPECT_EQ(static_cast<std::int64_t>(column(out / "metrics.jsonl", "loss").size()),
            ck.info.meta.step);
  EXPECT_NE(r.output.find("interrupted at step " + std::to_string(ck.info.meta.step)),
            std::string::npos)
      << r.output;
}

TEST(MpiSweep, RunsAreSpreadOverTheRanksWithTheOneProcessNumbers) {
  const test::ScratchDir dir("mpi_sweep");
  const std::string cfg = tiny_config(dir, "float32");
  const std::string args = " --seeds 0:1 --grid rnn.R=1,2 --set training.n_train_trials=160 ";
  const fs::path serial = dir.path() / "serial", mpi = dir.path() / "mpi";
  const test::AppRun a =
      run(std::string(LRNN_SWEEP_EXE) + " " + cfg + args + "--out " + serial.string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const test::AppRun b =
      run(mpirun(2) + LRNN_SWEEP_EXE + " " + cfg + args + "--out " + mpi.string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const std::string csv_serial = test::read_text((serial / "sweep.csv").string());
  const std::string csv_mpi = test::read_text((mpi / "sweep.csv").string());
  ASSERT_EQ(test::count_lines(csv_mpi), 5) << csv_mpi;
  // Row by row: the same runs and numbers; only the wall time and the rank differ. Rank r
  // trains runs r, r + 2.
  std::istringstream ls(csv_serial), lm(csv_mpi);
  std::string rs, rm;
  std::getline(ls, rs);
  std::getline(lm, rm);
  EXPECT_EQ(rs, rm) << "header";
  for (int i = 0; i < 4; ++i) {
    std::getline(ls, rs);
    std::getline(lm, rm);
    const auto cut = [](const std::string& row) {
      std::vector<std::string> f;
      std::stringstream ss(row);
      for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
      return f;
    };
    const auto fs_ = cut(rs), fm = cut(rm);
    ASSERT_EQ(fs_.size(), fm.size()) << rs << "\n" << rm;
    // index,name,rnn.R,seed,status,steps,train_loss,val_loss,...,wall_time_s,rank,reused,message
    for (std::size_t k = 0; k < 13; ++k) EXPECT_EQ(fs_[k], fm[k]) << "column " << k << "\n" << rm;
    EXPECT_EQ(fm[14], std::to_string(i % 2)) << rm;
  }
  EXPECT_TRUE(fs::exists(mpi / "sweep.svg"));
}

}  // namespace
}  // namespace lrnn
