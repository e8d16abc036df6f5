// lrnn-eval CKPT.h5 [--trials N] [--integrator euler|rk45|tsit5] [--coherences LIST]
//           [--trials-file F] [--noise-std S] [--input-noise-std S] [--stim-std S] [--out DIR]
//           [--threads N] [--no-figures]
// Exit codes: 0 done, 1 the run failed (a solve failed, an output could not be written),
// 2 bad usage, checkpoint or trials file.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/workflows/evaluate.hpp"

namespace {

struct Flags {
  std::string checkpoint;
  std::string integrator;
  std::vector<double> coherences;
  bool no_figures = false;
};

void add_flags(CLI::App& app, lrnn::EvalOptions& options, Flags& f) {
  app.add_option("checkpoint", f.checkpoint, "checkpoint (.h5) written by lrnn-train")->required();
  app.add_option("--trials", options.n_trials,
                 "generated test trials (default 2000; ignored with a trials file)")
      ->check(lrnn::cli::positive());
  app.add_option("--integrator", f.integrator,
                 "simulate with this integrator instead of the config's")
      ->check(CLI::IsMember({"euler", "rk45", "tsit5"}));
  app.add_option("--coherences", f.coherences,
                 "stimulus strengths to draw from, instead of task.coherences, e.g. "
                 "--coherences 0.05,0.1,0.2,0.4,0.8")
      ->delimiter(',')
      ->check(lrnn::cli::positive());
  app.add_option("--noise-std", options.noise_std,
                 "recurrent noise sigma instead of the checkpoint's rnn.noise_std (0: the "
                 "deterministic network; needed to evaluate a noisy network with rk45)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--input-noise-std", options.input_noise_std,
                 "input noise instead of the checkpoint's task.input_noise_std (0: noise-free "
                 "stimuli)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stim-std", options.stim_std,
                 "per-trial stimulus offset std instead of the checkpoint's task.stim_std (0: "
                 "the original's fixed stimuli)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--trials-file", options.trials_file,
                 "evaluate the trials of this HDF5 file (/u, /label, optional /context, "
                 "/coherence; an earlier eval.h5 works) instead of generating them");
  app.add_option("--out", options.out_dir,
                 "output directory (default: eval_<checkpoint name>/ beside the checkpoint)");
  app.add_option("--threads", options.threads, "threads (default: all cores)")
      ->check(lrnn::cli::positive());
  app.add_flag("--no-figures", f.no_figures, "write eval.h5 and metrics.json only");
  app.footer(
      "Writes eval.h5 (inputs, readouts y(t), choices, labels, contexts, coherences and\n"
      "kappa_r(t) = n_r^T tanh(x(t))/N of every trial), metrics.json, and the figures\n"
      "readout.svg, psychometric.svg, latents.svg and training.svg (when the run's\n"
      "metrics.jsonl is found).\n"
      "Exit codes: 0 done; 1 run failed (a solve failed, I/O); 2 bad usage, checkpoint or\n"
      "trials file.");
}

void print_summary(const std::string& checkpoint, const lrnn::EvalSummary& s) {
  const auto& m = s.metrics.task;
  std::printf("%s: %s, integrator %s, noise std %g (input %g), %.1f s\n", checkpoint.c_str(),
              s.trials.c_str(), lrnn::to_string(s.config.integrator.method), s.config.rnn.noise_std,
              s.config.task.input_noise_std, s.simulate_s);
  std::printf("loss %.5f  accuracy %.4f  (context 1 %.4f, context 2 %.4f)\n", m.loss, m.accuracy,
              m.accuracy_ctx[0], m.accuracy_ctx[1]);
  for (const auto& c : s.metrics.psychometric) {
    std::printf("context %d, stimulus %d (%s): logistic slope %.3g per unit coherence\n", c.context,
                c.stimulus, c.relevant ? "relevant" : "irrelevant", c.slope);
  }
  for (int k = 0; k < 2; ++k) {
    const double a = s.metrics.irrelevant_agreement[k];
    if (a == a) {
      std::printf("context %d: choice agrees with the irrelevant stimulus on %.3f of trials\n",
                  k + 1, a);
    }
  }
  for (const auto& f : s.files) std::printf("wrote %s\n", f.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Evaluate a trained checkpoint on the contextual switch task: accuracy overall, per context "
      "and per coherence, psychometric curves, and the latent variables kappa_r(t).",
      "lrnn-eval"};
  lrnn::EvalOptions options;
  Flags flags;
  add_flags(app, options, flags);
  if (const auto code = lrnn::cli::parse(app, argc, argv)) return *code;
  lrnn::cli::log_to_stderr("lrnn-eval");
  if (!flags.integrator.empty()) {
    options.integrator = flags.integrator == "rk45"    ? lrnn::Method::kRk45
                         : flags.integrator == "tsit5" ? lrnn::Method::kTsit5
                                                       : lrnn::Method::kEuler;
  }
  options.coherences = flags.coherences;
  options.figures = !flags.no_figures;
  lrnn::cli::ProgressLine line(lrnn::cli::stderr_is_tty());
  if (line.tty()) {
    options.progress = [&line](lrnn::Index done, lrnn::Index total) {
      line.show(fmt::format("simulating: {} / {} trials", done, total));
    };
  }
  return lrnn::cli::run_main(
      "lrnn-eval",
      [&] {
        const lrnn::EvalSummary s = lrnn::evaluate_checkpoint(flags.checkpoint, options);
        line.clear();
        print_summary(flags.checkpoint, s);
        return 0;
      },
      line.tty());
}
