// lrnn-inspect CKPT.h5 [--json] [--resample K [--populations P|auto]] [--trials N] [--threads N]
//              [--seed S] [--eigs] [--fixed-points [--input U] [--starts S] [--out DIR]]
//              [--truncate r]
// The low-rank structure of a trained network (analysis/low_rank.hpp); with --resample, the
// accuracy of networks resampled from one Gaussian (analysis/resample.hpp) or from mixtures
// (analysis/mixture.hpp) fitted to its unit loadings; with --fixed-points and --truncate, the
// dynamics analyses of workflows/inspect_dynamics.hpp.
// Exit codes: 0 done, 1 the run failed, 2 bad usage or checkpoint.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "cli.hpp"
#include "lrnn/config/config.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/io/metrics_log.hpp"
#include "lrnn/report/low_rank_report.hpp"
#include "lrnn/report/resample_report.hpp"
#include "lrnn/train/trainer.hpp"
#include "lrnn/workflows/inspect_dynamics.hpp"

namespace {

// Above this N the O(N³) eigenvalues of J take minutes: skipped unless --eigs.
constexpr lrnn::Index kMaxEigenN = 4000;

int fail(int code, const std::string& message) {
  return lrnn::cli::fail("lrnn-inspect", code, message);
}

// Progress of the resampling on stderr: one rewritten line on a terminal, a line per tenth of
// the work otherwise.
lrnn::ResampleProgress progress_printer(std::int64_t trials) {
  const bool tty = lrnn::cli::stderr_is_tty();
  const auto start = std::chrono::steady_clock::now();
  return [tty, start, trials, next = std::int64_t{0}](std::int64_t done,
                                                      std::int64_t total) mutable {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double left =
        done > 0 ? elapsed * static_cast<double>(total - done) / static_cast<double>(done) : 0.0;
    const std::int64_t network = (done - 1) / trials;
    const std::string what = network == 0 ? std::string("trained network")
                                          : "resampled network " + std::to_string(network) + "/" +
                                                std::to_string(total / trials - 1);
    if (tty) {
      std::fprintf(stderr, "\r\033[Kevaluating %s: %3.0f%%  %.0f s, about %.0f s left",
                   what.c_str(), 100.0 * static_cast<double>(done) / static_cast<double>(total),
                   elapsed, left);
      if (done == total) std::fprintf(stderr, "\r\033[K");
    } else if (done * 10 >= next * total) {
      std::fprintf(stderr, "lrnn-inspect: evaluated %lld/%lld trials (%s), %.0f s\n",
                   static_cast<long long>(done), static_cast<long long>(total), what.c_str(),
                   elapsed);
      next = done * 10 / total + 1;
    }
    std::fflush(stderr);
  };
}

struct Flags {
  std::string path;
  bool json = false;
  int resample = 0;
  std::int64_t trials = 512;
  int threads = 0;
  std::uint64_t seed = 0;
  bool eigs = false;
  lrnn::InspectDynamicsOptions dynamics;  ///< --fixed-points, --truncate, --populations
};

void add_dynamics_flags(CLI::App& app, lrnn::InspectDynamicsOptions& d) {
  app.add_flag("--fixed-points", d.fixed_points,
               "find the fixed and slow points of each task condition's constant input, print "
               "them and write fixed_points.json (docs/fixed_points.md)");
  app.add_option("--input", d.input,
                 "with --fixed-points: this constant input (d_in numbers) instead of the task's "
                 "10 conditions")
      ->delimiter(',')
      ->type_name("U1,U2,..");
  app.add_option("--starts", d.starts, "with --fixed-points: starts per condition (default 64, >= 4)")
      ->check(CLI::Range(4, 1000000));
  app.add_option("--out", d.out_dir,
                 "with --fixed-points: output directory (default inspect_<stem> beside the "
                 "checkpoint)");
  app.add_option("--truncate", d.truncate,
                 "evaluate the network with M n^T replaced by its best rank-r approximation "
                 "(SVD), 1 <= r <= R, on --trials test trials")
      ->check(lrnn::cli::positive())
      ->type_name("r");
  app.add_option("--populations", d.populations,
                 "with --resample K: fit Gaussian mixtures with P populations (EM, 10 starts) "
                 "instead of one Gaussian, or P = 1..4 with the lowest BIC marked (auto), and "
                 "evaluate K networks per P with the trained C kept and with C redrawn")
      ->type_name("P|auto");
}

// Flags that only apply with another one: the message, or "" when the combination is fine.
std::string misplaced_flag(const CLI::App& app, const Flags& f) {
  if (app.count("--resample") == 0 && app.count("--truncate") == 0 && app.count("--trials") > 0) {
    return "--trials only applies with --resample K or --truncate r (see --help)";
  }
  if (app.count("--resample") == 0 && app.count("--seed") > 0) {
    return "--seed only applies with --resample K (see --help)";
  }
  if (app.count("--populations") > 0 && f.resample == 0) {
    return "--populations only applies with --resample K (see --help)";
  }
  if (!f.dynamics.fixed_points &&
      (app.count("--input") > 0 || app.count("--starts") > 0 || app.count("--out") > 0)) {
    return "--input, --starts and --out only apply with --fixed-points (see --help)";
  }
  return "";
}

bool needs_config(const Flags& f) {
  return f.resample > 0 || f.dynamics.fixed_points || f.dynamics.truncate > 0;
}

void add_flags(CLI::App& app, Flags& f) {
  app.add_option("checkpoint", f.path, "checkpoint written by lrnn-train (best.h5, final.h5, ...)")
      ->required();
  app.add_flag("--json", f.json, "print one JSON document on stdout instead of the table");
  app.add_option("--resample", f.resample,
                 "draw K networks from one Gaussian fitted to the unit loadings and evaluate them")
      ->check(lrnn::cli::positive())
      ->type_name("K");
  app.add_option("--trials", f.trials,
                 "test trials per network for --resample and --truncate (default 512)")
      ->check(lrnn::cli::positive());
  app.add_option("--threads", f.threads,
                 "threads for --resample and --fixed-points (default: training.threads, else all "
                 "cores)")
      ->check(lrnn::cli::positive());
  app.add_option("--seed", f.seed,
                 "key of the resampled networks (default 0); the task keeps its own");
  app.add_flag("--eigs", f.eigs,
               "compute the eigenvalues of J even above N = 4000 (O(N^3) time, O(N^2) memory)");
  add_dynamics_flags(app, f.dynamics);
  app.footer(
      "What the numbers mean: mean-field theory places the eigenvalues of the overlap matrix\n"
      "n^T m/N (entry [r,s] = n_r.m_s/N) as outliers of J = gC + Mn^T/N outside the bulk disk\n"
      "of radius g, up to O(1/sqrt(N)); the table puts them next to J's R largest eigenvalues\n"
      "computed directly and the largest remaining |eigenvalue| (the bulk edge, ~g). The bulk\n"
      "overlap n^T gC m/N is ~0 when m, n are independent of C; training can correlate them,\n"
      "which moves the outliers. Input overlaps n_r.B_k/N say how strongly input k drives\n"
      "latent variable r; readout overlaps w.m_r/N how much of the readout follows it; norms\n"
      "are |v|/sqrt(N). --resample K fits one Gaussian to the per-unit loadings (m_i, n_i,\n"
      "B_i, w_i), draws K networks of the same size (C redrawn with the same variance) and\n"
      "reports their test accuracy next to the trained network's: if they keep it, one\n"
      "population explains the network.\n"
      "Exit codes: 0 done; 1 the run failed; 2 bad usage or an unreadable checkpoint.");
}

// The low-rank summary, with --resample the resampled networks' accuracy, and the dynamics
// analyses asked for.
struct Inspection {
  lrnn::LowRankSummary summary;
  std::optional<lrnn::ResampleReport> report;
  std::optional<lrnn::InspectDynamicsResult> dynamics;
};

Inspection inspect(const Flags& f, const lrnn::LoadedCheckpoint<double>& ck,
                   const lrnn::Config& config) {
  lrnn::LowRankOptions low_rank_options;
  low_rank_options.eigen_J = f.eigs || ck.info.dims.N <= kMaxEigenN;
  if (!low_rank_options.eigen_J) {
    std::fprintf(stderr,
                 "lrnn-inspect: N = %lld > %lld: the eigenvalues of J are skipped (--eigs "
                 "computes them, O(N^3))\n",
                 static_cast<long long>(ck.info.dims.N), static_cast<long long>(kMaxEigenN));
  }
  Inspection out{lrnn::summarize_low_rank(ck.net, low_rank_options), std::nullopt, std::nullopt};
  // The trainer's policy: the flag, else training.threads, else the cores this process may run
  // on (its CPU affinity).
  const int threads = lrnn::resolve_threads(f.threads > 0 ? f.threads : config.training.threads);
  if (f.resample > 0 && f.dynamics.populations.empty()) {
    lrnn::ResampleOptions o;
    o.networks = f.resample;
    o.trials = f.trials;
    o.seed = f.seed;
    o.threads = threads;
    out.report = lrnn::evaluate_resampled(ck.net, config, o, progress_printer(f.trials));
  }
  if (f.dynamics.fixed_points || f.dynamics.truncate > 0 || !f.dynamics.populations.empty()) {
    lrnn::InspectDynamicsOptions d = f.dynamics;
    d.threads = threads;
    d.trials = f.trials;
    d.resample = f.resample;
    d.seed = f.seed;
    d.progress = progress_printer(f.trials);
    out.dynamics = lrnn::inspect_dynamics(f.path, ck.net, config, d);
  }
  return out;
}

void print(const Flags& f, const lrnn::LoadedCheckpoint<double>& ck, const Inspection& in) {
  const char* precision = lrnn::to_string(ck.info.meta.precision);
  if (f.json) {
    lrnn::JsonObject doc;
    doc.add("checkpoint", f.path)
        .add("step", ck.info.meta.step)
        .add("precision", std::string_view(precision))
        .add_json("low_rank", lrnn::to_json(in.summary));
    if (in.report) doc.add_json("resample", lrnn::to_json(*in.report));
    const auto& dyn = in.dynamics;
    if (dyn && dyn->fixed_points) doc.add_json("fixed_points", dyn->fixed_points_json);
    if (dyn && dyn->truncation) doc.add_json("truncate", dyn->truncation_json);
    if (dyn && dyn->populations) doc.add_json("populations", dyn->populations_json);
    std::printf("%s\n", doc.str().c_str());
  } else {
    std::printf("checkpoint %s  (step %lld, trained in %s)\n\n%s", f.path.c_str(),
                static_cast<long long>(ck.info.meta.step), precision,
                lrnn::to_text(in.summary).c_str());
    if (in.report) std::printf("\n%s", lrnn::to_text(*in.report).c_str());
    if (in.dynamics) std::printf("\n%s", in.dynamics->text.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Inspect the low-rank structure of a trained network (Mastrogiuseppe & Ostojic "
      "2018) and, with --resample, test it by connectivity resampling (Dubreuil et al. "
      "2022).",
      "lrnn-inspect"};
  Flags flags;
  add_flags(app, flags);
  if (const auto code = lrnn::cli::parse(app, argc, argv)) return *code;
  lrnn::cli::log_to_stderr("lrnn-inspect");
  if (const std::string why = misplaced_flag(app, flags); !why.empty()) return fail(2, why);

  lrnn::LoadedCheckpoint<double> ck;
  lrnn::Config config;
  try {
    ck = lrnn::load_checkpoint<double>(flags.path);
    if (needs_config(flags)) {
      config = lrnn::stored_config(ck.info.meta, flags.path);
    }
  } catch (const std::exception& e) {
    return fail(2, e.what());  // any failure to read the checkpoint is bad input
  }
  return lrnn::cli::run_main("lrnn-inspect", [&] {
    print(flags, ck, inspect(flags, ck, config));
    return 0;
  });
}
