// The figures of lrnn-eval, as standalone SVG files (drawn with lrnn/report/svg_plot.hpp), sized to
// read well at about 800 px wide, e.g. in a README. Each function writes one file atomically and
// throws IoError naming it when it cannot.
#pragma once

#include <string>
#include <vector>

#include "lrnn/analysis/psychometric.hpp"
#include "lrnn/analysis/traces.hpp"

namespace lrnn {

/// The readout y(t) by context: one panel per context present (1, 2; a single "all trials" panel
/// when no trial has a context), in each one series per sign of the relevant stimulus (the one the
/// context names; sign of coherence(trial, context - 1), of the target when that is 0): the mean
/// over trials as a line and ±1 standard deviation as a band. The loss window [window_start,
/// window_end] is shaded; dashed grey lines mark the target levels (±1, or 0 and 1 for binary).
void plot_readout(const TrialTraces& traces, const std::string& path);

/// Psychometric curves: one panel per context; in each, P(report +1) against the signed coherence
/// of stimulus 1 and of stimulus 2, as points with binomial standard-error bars sqrt(p(1-p)/n) and
/// the logistic fit σ(bias + slope·c) dashed over the data's coherence range.
void plot_psychometric(const std::vector<PsychometricCurve>& curves, const std::string& path);

/// Latent trajectories: the condition means of κ2(t) against κ1(t), one panel per context, one
/// trajectory per condition (sign of stimulus 1 x sign of stimulus 2), a hollow circle at the first
/// observation and a filled square at the last. Rank 1: κ1 against time. Rank > 2: κ1 and κ2, as
/// the title says.
void plot_latents(const TrialTraces& traces, const std::string& path);

/// Training curves, as read from metrics.jsonl: `step`/`loss` has one entry per logged step (loss
/// NaN when absent or null, e.g. on a skipped batch); the `val_` vectors one per validation line.
struct TrainingCurves {
  std::vector<double> step, loss;
  std::vector<double> val_step, val_loss, val_accuracy, val_accuracy_ctx1, val_accuracy_ctx2;
};

/// Reads metrics.jsonl (one flat JSON object per line; see lrnn/io/metrics_log.hpp). Keys other
/// than step, loss and val_* are ignored; a line with any val_* key is a validation line (a missing
/// or null val_* value is NaN). A malformed line throws InputError "file:line: what is wrong",
/// except an unterminated last line, which a run killed mid-write leaves and which is skipped.
/// A file that cannot be opened throws IoError.
TrainingCurves read_training_curves(const std::string& metrics_jsonl_path);

/// Two panels: the training loss per step (thin) with its running mean (bold) and the validation
/// loss, log y axis; the validation accuracy overall and per context against the step.
void plot_training(const TrainingCurves& curves, const std::string& path);

}  // namespace lrnn
