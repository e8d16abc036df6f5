// Sweeps: parsing --seeds and --grid, the plan of runs, and the real lrnn-sweep (one process)
// writing run directories, sweep.csv and sweep.svg; reuse of finished runs; a diverging run as a
// row; --collect; unfinished runs resumed from their newest checkpoint, bit for bit.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lrnn/core/comm.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/workflows/sweep.hpp"
#include "support/app_run.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/tiny_config.hpp"
#include "support/xml.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;

const std::string kTiny = test::tiny_config_yaml(R"(  batch_size: 16
  n_train_trials: 160
  n_val_trials: 32
  eval_every: 5
  save_every: 10
  threads: 1
)");

std::string write_config(const test::ScratchDir& dir) {
  const fs::path p = dir.path() / "tiny.yaml";
  std::ofstream(p) << kTiny;
  return p.string();
}

// Rows of a CSV file as maps from the header's names; quoted fields may hold commas.
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (c == '"') {
        if (quoted && i + 1 < line.size() && line[i + 1] == '"') {
          fields.back() += '"';
          ++i;
        } else {
          quoted = !quoted;
        }
      } else if (c == ',' && !quoted) {
        fields.emplace_back();
      } else {
        fields.back() += c;
      }
    }
    rows.push_back(fields);
  }
  std::vector<std::map<std::string, std::string>> out;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    std::map<std::string, std::string> m;
    for (std::size_t c = 0; c < rows[0].size() && c < rows[r].size(); ++c)
      m[rows[0][c]] = rows[r][c];
    m["#fields"] = std::to_string(rows[r].size());
    m["#header"] = std::to_string(rows[0].size());
    out.push_back(m);
  }
  return out;
}

test::AppRun run_sweep_app(const std::string& args) { return test::run_app(LRNN_SWEEP_EXE, args); }

TEST(ParseSeeds, RangesListsAndErrors) {
  EXPECT_EQ(parse_seeds("7"), std::vector<std::uint64_t>{7});
  EXPECT_EQ(parse_seeds("0:3"), (std::vector<std::uint64_t>{0, 1, 2, 3}));
  EXPECT_EQ(parse_seeds("0:1, 5,9:10"), (std::vector<std::uint64_t>{0, 1, 5, 9, 10}));
  EXPECT_EQ(parse_seeds("0:99").size(), 100u);
  for (const char* bad : {"", "a", "3:1", "1,1", "0:2,2", "-1", "1.5", "0:", ":3"}) {
    EXPECT_THROW(parse_seeds(bad), ConfigError) << bad;
  }
}

TEST(ParseGrid, KeyAndValuesWithFlowLists) {
  const SweepAxis a = parse_grid_axis("rnn.R=1,2,3");
  EXPECT_EQ(a.key, "rnn.R");
  EXPECT_EQ(a.values, (std::vector<std::string>{"1", "2", "3"}));
  const SweepAxis c = parse_grid_axis("task.coherences=[0.1, 0.2],[0.4]");
  EXPECT_EQ(c.values, (std::vector<std::string>{"[0.1, 0.2]", "[0.4]"}));
  for (const char* bad : {"rnn.R", "=1,2", "rnn.R=1,,2", "rnn.R=1,1"}) {
    EXPECT_THROW(parse_grid_axis(bad), ConfigError) << bad;
  }
}

TEST(PlanSweep, CartesianProductTimesSeeds) {
  const test::ScratchDir dir("sweep_plan");
  SweepOptions o;
  o.config_path = write_config(dir);
  o.seeds = {0, 11};
  o.grid = {parse_grid_axis("rnn.R=1,2"), parse_grid_axis("rnn.g=0.5,0.9")};
  o.overrides = {"training.learning_rate=0.02"};
  o.out = (dir.path() / "s").string();
  const std::vector<SweepRun> runs = plan_sweep(o);
  ASSERT_EQ(runs.size(), 8u);
  // The first axis is the slowest, the seed the fastest.
  EXPECT_EQ(runs[0].name, "R=1_g=0.5_seed0");
  EXPECT_EQ(runs[1].name, "R=1_g=0.5_seed11");
  EXPECT_EQ(runs[2].name, "R=1_g=0.9_seed0");
  EXPECT_EQ(runs[7].name, "R=2_g=0.9_seed11");
  EXPECT_EQ(runs[7].point, 3);
  EXPECT_EQ(runs[7].config.rnn.R, 2);
  EXPECT_EQ(runs[7].config.rnn.g, 0.9);
  EXPECT_EQ(runs[7].config.training.seed, 11u);
  EXPECT_EQ(runs[7].config.training.learning_rate, 0.02);
  EXPECT_EQ(runs[7].config.output.dir, (dir.path() / "s" / "R=2_g=0.9_seed11").string());

  o.grid = {parse_grid_axis("rnn.R=1,0")};
  try {
    plan_sweep(o);
    FAIL() << "rnn.R = 0 accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("R=0_seed0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rnn.R"), std::string::npos) << e.what();
  }
  o.grid = {parse_grid_axis("training.seed=1,2")};
  EXPECT_THROW(plan_sweep(o), ConfigError);
}

TEST(RecordJson, RoundTrips) {
  SweepRecord r;
  r.index = 3;
  r.name = "R=1_seed2";
  r.seed = 18446744073709551615ULL;
  r.status = RunStatus::kDiverged;
  r.message = "step 3: the loss is \"NaN\"";
  r.val_loss = std::numeric_limits<double>::quiet_NaN();
  r.val_accuracy = 0.75;
  r.rank = 1;
  const SweepRecord b = record_from_json(to_json(r), "test");
  EXPECT_EQ(b.index, 3);
  EXPECT_EQ(b.name, r.name);
  EXPECT_EQ(b.seed, r.seed);
  EXPECT_EQ(b.status, RunStatus::kDiverged);
  EXPECT_EQ(b.message, r.message);
  EXPECT_TRUE(std::isnan(b.val_loss));
  EXPECT_EQ(b.val_accuracy, 0.75);
  EXPECT_EQ(b.rank, 1);
  EXPECT_THROW(record_from_json("{\"index\": 1", "test"), IoError);
}

constexpr const char* kColumns[] = {"index",
                                    "name",
                                    "rnn.R",
                                    "seed",
                                    "status",
                                    "steps",
                                    "train_loss",
                                    "val_loss",
                                    "val_accuracy",
                                    "val_accuracy_ctx1",
                                    "val_accuracy_ctx2",
                                    "best_val_loss",
                                    "best_step",
                                    "wall_time_s",
                                    "rank",
                                    "reused",
                                    "message"};

TEST(SweepApp, TwoSeedsTimesTwoRanksWriteFourRunsTheTableAndTheFigure) {
  const test::ScratchDir dir("sweep_e2e");
  const std::string cfg = write_config(dir);
  const std::string out = (dir.path() / "sweep").string();
  const test::AppRun r = run_sweep_app(cfg + " --seeds 0:1 --grid rnn.R=1,2 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* run : {"R=1_seed0", "R=1_seed1", "R=2_seed0", "R=2_seed1"}) {
    EXPECT_TRUE(fs::exists(fs::path(out) / run / "final.h5")) << run;
    EXPECT_TRUE(fs::exists(fs::path(out) / run / "config.yaml")) << run;
    EXPECT_TRUE(fs::exists(fs::path(out) / run / "sweep_run.json")) << run;
    EXPECT_EQ(test::count_lines(test::read_text((fs::path(out) / run / "metrics.jsonl").string())),
              10)
        << run;
  }
  EXPECT_NE(test::read_text((fs::path(out) / "R=2_seed1" / "config.yaml").string()).find("R: 2"),
            std::string::npos);
  const auto rows = read_csv(out + "/sweep.csv");
  ASSERT_EQ(rows.size(), 4u);
  for (const char* c : kColumns) EXPECT_TRUE(rows[0].count(c)) << c;
  EXPECT_EQ(rows[0].at("#header"), std::to_string(std::size(kColumns)));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].at("#fields"), rows[i].at("#header"));
    EXPECT_EQ(rows[i].at("index"), std::to_string(i));
    EXPECT_EQ(rows[i].at("status"), "ok");
    EXPECT_EQ(rows[i].at("steps"), "10");
    EXPECT_EQ(rows[i].at("rnn.R"), i < 2 ? "1" : "2");
    EXPECT_EQ(rows[i].at("seed"), std::to_string(i % 2));
    EXPECT_EQ(rows[i].at("rank"), "0");
    EXPECT_EQ(rows[i].at("reused"), "0");
    const double acc = std::stod(rows[i].at("val_accuracy"));
    EXPECT_GE(acc, 0.0);
    EXPECT_LE(acc, 1.0);
    EXPECT_GT(std::stod(rows[i].at("wall_time_s")), 0.0);
  }
  // Two seeds of one network differ; the same seed with another rank too.
  EXPECT_NE(rows[0].at("val_loss"), rows[1].at("val_loss"));
  EXPECT_NE(rows[0].at("val_loss"), rows[2].at("val_loss"));

  const std::string svg = test::read_text(out + "/sweep.svg");
  const test::XmlCheck x = test::check_xml(svg);
  EXPECT_TRUE(x.ok) << x.error;
  EXPECT_GE(test::count_nodes(svg, "//g[@data-label='mean \u00b1 s.d.']"), 1u);
  EXPECT_GE(test::count_nodes(svg, "//g[@data-label='one seed']"), 1u);
  EXPECT_NE(r.output.find("R=1: 2/2 finished"), std::string::npos) << r.output;

  // Again: the finished runs are reused, not trained (the same numbers, marked reused).
  const test::AppRun again = run_sweep_app(cfg + " --seeds 0:1 --grid rnn.R=1,2 --out " + out);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const auto rows2 = read_csv(out + "/sweep.csv");
  ASSERT_EQ(rows2.size(), 4u);
  for (std::size_t i = 0; i < rows2.size(); ++i) {
    EXPECT_EQ(rows2[i].at("reused"), "1");
    EXPECT_EQ(rows2[i].at("val_loss"), rows[i].at("val_loss"));
  }

  // --collect rebuilds the table from the run directories; a run that is gone is "missing".
  fs::remove_all(fs::path(out) / "R=2_seed0");
  fs::remove(out + "/sweep.csv");
  const test::AppRun collect =
      run_sweep_app(cfg + " --seeds 0:1 --grid rnn.R=1,2 --collect --out " + out);
  EXPECT_EQ(collect.exit_code, 1) << collect.output;
  const auto rows3 = read_csv(out + "/sweep.csv");
  ASSERT_EQ(rows3.size(), 4u);
  EXPECT_EQ(rows3[2].at("status"), "missing");
  EXPECT_EQ(rows3[3].at("status"), "ok");
  EXPECT_FALSE(fs::exists(fs::path(out) / "R=2_seed0")) << "--collect trains nothing";
}

TEST(SweepApp, JobArrayTasksThenCollect) {
  // What scripts/slurm_sweep.sh does: each task trains one seed at every grid point and writes
  // no table; a last job gathers the tables of all seeds.
  const test::ScratchDir dir("sweep_array");
  const std::string cfg = write_config(dir);
  const std::string out = (dir.path() / "sweep").string();
  for (const char* seed : {"2", "0"}) {
    const test::AppRun task =
        run_sweep_app(cfg + " --seeds " + seed + " --grid rnn.R=1,2 --no-summary --out " + out);
    ASSERT_EQ(task.exit_code, 0) << task.output;
  }
  EXPECT_FALSE(fs::exists(out + "/sweep.csv")) << "--no-summary";
  const test::AppRun collect =
      run_sweep_app(cfg + " --seeds 0:2 --grid rnn.R=1,2 --collect --out " + out);
  EXPECT_EQ(collect.exit_code, 1) << "seed 1 is missing\n" << collect.output;
  const auto rows = read_csv(out + "/sweep.csv");
  ASSERT_EQ(rows.size(), 6u);
  const char* expect[] = {"ok", "missing", "ok", "ok", "missing", "ok"};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].at("index"), std::to_string(i));
    EXPECT_EQ(rows[i].at("status"), expect[i]) << rows[i].at("name");
  }
  EXPECT_EQ(rows[5].at("name"), "R=2_seed2");
  EXPECT_EQ(rows[5].at("steps"), "10");
}

TEST(SweepApp, ADivergingRunIsARowNotTheEnd) {
  const test::ScratchDir dir("sweep_nan");
  const std::string cfg = write_config(dir);
  const std::string out = (dir.path() / "sweep").string();
  // Without clipping, a learning rate of 1e30 overflows float32 within three steps.
  const test::AppRun r = run_sweep_app(cfg + " --seeds 0 --grid training.learning_rate=0.01,1e30 " +
                                       "--set training.grad_clip=0 --out " + out);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto rows = read_csv(out + "/sweep.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("status"), "ok");
  EXPECT_EQ(rows[1].at("status"), "diverged");
  EXPECT_NE(rows[1].at("message").find("NaN"), std::string::npos) << rows[1].at("message");
  EXPECT_EQ(rows[1].at("val_accuracy"), "");
  EXPECT_TRUE(test::check_xml(test::read_text(out + "/sweep.svg")).ok);
}

TEST(SweepApp, BadInputIsOneLineAndExitCode2) {
  const test::ScratchDir dir("sweep_bad");
  const std::string cfg = write_config(dir);
  const std::string out = (dir.path() / "sweep").string();
  const test::AppRun r = run_sweep_app(cfg + " --seeds 0:1 --grid rnn.R=1,0 --out " + out);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.err.find("lrnn-sweep: error: run R=0_seed0: "), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(fs::path(out) / "R=1_seed0")) << "nothing trains before the check";
  const test::AppRun s = run_sweep_app(cfg + " --seeds 3:1 --out " + out);
  EXPECT_EQ(s.exit_code, 2) << s.output;
  EXPECT_EQ(test::count_lines(s.err), 1) << s.err;
}

TEST(SweepApp, StartedAsRanksOfABuildWithoutMpiIsRefused) {
  if (built_with_mpi()) GTEST_SKIP() << "this build has MPI";
  // What mpirun -np 2 would set: two processes that would each run the whole sweep into one
  // directory.
  const test::ScratchDir dir("sweep_nompi");
  const std::string cfg = write_config(dir);
  const test::AppRun r = test::run_app("OMPI_COMM_WORLD_SIZE=2 " LRNN_SWEEP_EXE,
                                       cfg + " --seeds 0 --out " + (dir.path() / "s").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.err.find("built without MPI"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "s"));
  // srun -n 2 without an MPI plugin (a cluster whose MpiDefault is none) sets only Slurm's count.
  const test::AppRun srun = test::run_app("SLURM_STEP_NUM_TASKS=2 " LRNN_SWEEP_EXE,
                                          cfg + " --seeds 0 --out " + (dir.path() / "s").string());
  EXPECT_EQ(srun.exit_code, 2) << srun.output;
  EXPECT_NE(srun.err.find("built without MPI"), std::string::npos) << srun.err;
  EXPECT_FALSE(fs::exists(dir.path() / "s"));
  // One task of a step (an array task under srun) is one process: it runs.
  const test::AppRun one = test::run_app("SLURM_STEP_NUM_TASKS=1 " LRNN_SWEEP_EXE,
                                         cfg + " --seeds 0 --out " + (dir.path() / "s").string());
  EXPECT_EQ(one.exit_code, 0) << one.output;
}

// ---------------------------------------------------------------------------------------------
// Resuming unfinished runs

// 1000 steps of the tiny network (a few seconds): long enough that a signal sent after 40 steps
// lands in the middle. Checkpoints every 10 steps, as a job's periodic ones.
const std::string kLong = " --set training.n_epochs=100";

std::string metrics_of(const std::string& run) {
  return test::read_text((fs::path(run) / "metrics.jsonl").string());
}

// metrics.jsonl without the wall times: what must repeat exactly.
std::vector<std::string> logged_numbers(const std::string& run) {
  std::vector<std::string> out;
  for (std::string line : test::lines_of(metrics_of(run))) {
    const auto at = line.find("\"step_time_s\"");
    if (at != std::string::npos) {
      const auto end = line.find_first_of(",}", at);
      line.erase(at, end - at);
    }
    out.push_back(line);
  }
  return out;
}

// Starts lrnn-sweep, waits until `run` has logged `lines` steps, sends `sig`, and returns how
// it ended; fails the test if the sweep ended before that.
test::ProcessResult stop_sweep_after(const std::vector<std::string>& argv, const std::string& run,
                                     std::size_t lines, int sig, const std::string& capture) {
  test::ChildProcess p(argv, capture);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (test::count_lines(metrics_of(run)) < static_cast<int>(lines)) {
    if (!p.running() || std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "the sweep ended (or hung) before step " << lines;
      return p.wait();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  p.signal(sig);
  return p.wait(60.0);
}

std::vector<std::string> sweep_argv(const std::string& cfg, const std::string& out,
                                    const std::string& more) {
  std::vector<std::string> argv = {LRNN_SWEEP_EXE, cfg, "--seeds", "3", "--out", out};
  std::istringstream words(more);
  for (std::string w; words >> w;) argv.push_back(w);
  return argv;
}

// The runs of two sweep directories hold the same numbers: parameters, Adam state, best.h5 and
// the metrics log; and their sweep.csv rows agree but for the wall time, rank and reuse.
void expect_same_sweep(const std::string& a, const std::string& b, const std::string& run) {
  for (const char* file : {"/final.h5", "/best.h5"}) {
    SCOPED_TRACE(file);
    const auto x = load_checkpoint<float>(a + "/" + run + file);
    const auto y = load_checkpoint<float>(b + "/" + run + file);
    EXPECT_TRUE((x.net.theta.flat().array() == y.net.theta.flat().array()).all());
    EXPECT_TRUE((x.adam.m.array() == y.adam.m.array()).all());
    EXPECT_TRUE((x.adam.v.array() == y.adam.v.array()).all());
    EXPECT_EQ(x.info.meta.step, y.info.meta.step);
    EXPECT_EQ(x.info.meta.best_step, y.info.meta.best_step);
  }
  EXPECT_EQ(logged_numbers(a + "/" + run), logged_numbers(b + "/" + run));
  auto ra = read_csv(a + "/sweep.csv"), rb = read_csv(b + "/sweep.csv");
  ASSERT_EQ(ra.size(), rb.size());
  for (std::size_t i = 0; i < ra.size(); ++i) {
    for (auto* rows : {&ra, &rb}) {
      for (const char* c : {"wall_time_s", "rank", "reused"}) (*rows)[i].erase(c);
    }
    EXPECT_EQ(ra[i], rb[i]) << "row " << i;
  }
}

TEST(SweepResume, ASignalledRunResumesFromItsCheckpointBitForBit) {
  const test::ScratchDir dir("sweep_resume_signal");
  const std::string cfg = write_config(dir);
  const std::string full = dir / "full", part = dir / "part";
  const test::AppRun direct = run_sweep_app(cfg + " --seeds 3 --out " + full + kLong);
  ASSERT_EQ(direct.exit_code, 0) << direct.output;

  // SIGTERM, as scancel or a time limit sends it: a checkpoint and an "interrupted" record.
  const test::ProcessResult stopped =
      stop_sweep_after(sweep_argv(cfg, part, kLong), part + "/seed3", 40, SIGTERM, dir / "stopped");
  ASSERT_EQ(stopped.exit_code, 143) << stopped.how() << " " << stopped.err;
  const auto rows = read_csv(part + "/sweep.csv");
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(rows[0].at("status"), "interrupted");
  const std::int64_t stopped_at = std::stoll(rows[0].at("steps"));
  EXPECT_GT(stopped_at, 0);
  EXPECT_LT(stopped_at, 1000);
  // --collect (a Slurm sweep's last job) reports an unfinished run with 1, as a missing one: the
  // collect itself was not interrupted.
  const test::AppRun collect = run_sweep_app(cfg + " --seeds 3 --collect --out " + part + kLong);
  EXPECT_EQ(collect.exit_code, 1) << collect.output;

  const test::AppRun again = run_sweep_app(cfg + " --seeds 3 --out " + part + kLong);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.err.find("run 0 seed3: resuming from " + part + "/seed3/checkpoints/step_"),
            std::string::npos)
      << again.err;
  // The log of a resumed run goes on after the first part's.
  const std::string log = test::read_text(part + "/seed3/train.log");
  EXPECT_NE(log.find("interrupted at step"), std::string::npos);
  EXPECT_NE(log.find("resuming from"), std::string::npos);
  expect_same_sweep(full, part, "seed3");
}

TEST(SweepResume, AKilledRunWithoutARecordResumesFromItsNewestCheckpoint) {
  const test::ScratchDir dir("sweep_resume_kill");
  const std::string cfg = write_config(dir);
  const std::string full = dir / "full", part = dir / "part";
  const test::AppRun direct = run_sweep_app(cfg + " --seeds 3 --out " + full + kLong);
  ASSERT_EQ(direct.exit_code, 0) << direct.output;

  // SIGKILL, as a lost node or Slurm's kill after KillWait: no record, checkpoints every 10 steps,
  // and metrics.jsonl ahead of the newest checkpoint.
  const test::ProcessResult killed =
      stop_sweep_after(sweep_argv(cfg, part, kLong), part + "/seed3", 45, SIGKILL, dir / "killed");
  ASSERT_EQ(killed.signal, SIGKILL) << killed.how();
  ASSERT_FALSE(fs::exists(part + "/seed3/sweep_run.json"));

  const test::AppRun again = run_sweep_app(cfg + " --seeds 3 --out " + part + kLong);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.err.find("resuming from"), std::string::npos) << again.err;
  EXPECT_EQ(again.err.find("step_000000.h5"), std::string::npos) << "not from the start";
  expect_same_sweep(full, part, "seed3");
}

TEST(SweepResume, FailedRunsAndCheckpointsOfAnotherConfigStartAgain) {
  const test::ScratchDir dir("sweep_resume_restart");
  const std::string cfg = write_config(dir);
  const std::string full = dir / "full", part = dir / "part";
  const std::string lr = " --set training.learning_rate=0.02";
  const test::AppRun direct = run_sweep_app(cfg + " --seeds 3 --out " + full + kLong + lr);
  ASSERT_EQ(direct.exit_code, 0) << direct.output;

  // Interrupted at the default learning rate, then swept at another: the checkpoints are of
  // another config, so the run starts again and ends as the direct run at that rate.
  const test::ProcessResult stopped =
      stop_sweep_after(sweep_argv(cfg, part, kLong), part + "/seed3", 40, SIGTERM, dir / "stopped");
  ASSERT_EQ(stopped.exit_code, 143) << stopped.how() << " " << stopped.err;
  const test::AppRun other = run_sweep_app(cfg + " --seeds 3 --out " + part + kLong + lr);
  ASSERT_EQ(other.exit_code, 0) << other.output;
  EXPECT_EQ(other.err.find("resuming from"), std::string::npos) << other.err;
  expect_same_sweep(full, part, "seed3");

  // A record that says "failed" is trained again from the start, though checkpoints are there.
  const std::string record = part + "/seed3/sweep_run.json";
  auto doc = nlohmann::ordered_json::parse(test::read_text(record));
  ASSERT_EQ(doc.at("status"), "ok") << doc.dump();
  doc["status"] = "failed";
  std::ofstream(record) << doc.dump() << "\n";
  const test::AppRun failed = run_sweep_app(cfg + " --seeds 3 --out " + part + kLong + lr);
  ASSERT_EQ(failed.exit_code, 0) << failed.output;
  EXPECT_EQ(failed.err.find("resuming from"), std::string::npos) << failed.err;
  EXPECT_NE(failed.err.find("run 0 seed3: ok"), std::string::npos) << failed.err;
  EXPECT_EQ(test::read_text(part + "/seed3/train.log").find("resuming from"), std::string::npos);
  expect_same_sweep(full, part, "seed3");
}

}  // namespace
}  // namespace lrnn
