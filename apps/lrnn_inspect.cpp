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
#include "lrnn/report/low_rank_report.hpp"
#include "lrnn/report/resample_report.hpp"
#include "lrnn/workflows/inspect.hpp"

namespace {

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
  lrnn::InspectOptions inspect;  ///< --resample, --trials, ..., --fixed-points, --truncate
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
  app.add_option("--starts", d.starts,
                 "with --fixed-points: starts per condition (default 64, >= 4)")
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
  if (app.count("--populations") > 0 && f.inspect.resample == 0) {
    return "--populations only applies with --resample K (see --help)";
  }
  if (!f.inspect.dynamics.fixed_points &&
      (app.count("--input") > 0 || app.count("--starts") > 0 || app.count("--out") > 0)) {
    return "--input, --starts and --out only apply with --fixed-points (see --help)";
  }
  return "";
}

void add_flags(CLI::App& app, Flags& f) {
  app.add_option("checkpoint", f.path, "checkpoint written by lrnn-train (best.h5, final.h5, ...)")
      ->required();
  app.add_flag("--json", f.json, "print one JSON document on stdout instead of the table");
  lrnn::InspectOptions& o = f.inspect;
  app.add_option("--resample", o.resample,
                 "draw K networks from one Gaussian fitted to the unit loadings and evaluate them")
      ->check(lrnn::cli::positive())
      ->type_name("K");
  app.add_option("--trials", o.trials,
                 "test trials per network for --resample and --truncate (default 512)")
      ->check(lrnn::cli::positive());
  app.add_option("--threads", o.threads,
                 "threads for --resample and --fixed-points (default: training.threads, else all "
                 "cores)")
      ->check(lrnn::cli::positive());
  app.add_option("--seed", o.seed,
                 "key of the resampled networks (default 0); the task keeps its own");
  app.add_flag("--eigs", o.eigs,
               "compute the eigenvalues of J even above N = 4000 (O(N^3) time, O(N^2) memory)");
  add_dynamics_flags(app, o.dynamics);
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

void print(const Flags& f, const lrnn::LoadedCheckpoint<double>& ck, const lrnn::Inspection& in) {
  if (f.json) {
    std::printf("%s\n", lrnn::inspection_json(f.path, ck.info, in).c_str());
  } else {
    std::printf("checkpoint %s  (step %lld, trained in %s)\n\n%s", f.path.c_str(),
                static_cast<long long>(ck.info.meta.step), lrnn::to_string(ck.info.meta.precision),
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
    if (lrnn::inspect_needs_config(flags.inspect)) {
      config = lrnn::stored_config(ck.info.meta, flags.path);
    }
  } catch (const std::exception& e) {
    return fail(2, e.what());  // any failure to read the checkpoint is bad input
  }
  if (!flags.inspect.eigs && ck.info.dims.N > lrnn::kMaxEigenN) {
    std::fprintf(stderr,
                 "lrnn-inspect: N = %lld > %lld: the eigenvalues of J are skipped (--eigs "
                 "computes them, O(N^3))\n",
                 static_cast<long long>(ck.info.dims.N), static_cast<long long>(lrnn::kMaxEigenN));
  }
  flags.inspect.progress = progress_printer(flags.inspect.trials);
  return lrnn::cli::run_main("lrnn-inspect", [&] {
    print(flags, ck, lrnn::inspect_checkpoint(flags.path, ck, config, flags.inspect));
    return 0;
  });
}
