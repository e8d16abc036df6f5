// Trials files: trials built elsewhere (neurogym, NumPy, an earlier lrnn-eval) that lrnn trains and
// evaluates on instead of its generator (`task.trials_file`, `lrnn-eval --trials-file`).
//
// Layout (HDF5, datasets at the root, or under the group /trials when the root has no /u, so that
// an eval.h5 written by lrnn-eval loads as it is), arrays as h5py shows them:
//   /u          trials x K x d_in, any float (or integer) type: u_k of each trial, the input held
//               on [t_k, t_{k+1}) of the config's integrator.dt grid (DESIGN.md section 2)
//   /label      trials (or trials x 1): ±1 for task.label_type pm1, 0/1 for binary
//   /context    optional, trials: 1 or 2, 0 = unknown
//   /coherence  optional, trials x 2: signed strength σ_i a_i of stimulus 1 and 2, finite
//   /split      optional, trials: 0 train, 1 validation, 2 test
// scripts/make_trials_file.py writes one from NumPy.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/task/trial_source.hpp"

namespace lrnn {

struct TrialsFileOptions {
  LabelType label_type = LabelType::kPm1;  ///< task.label_type: what /label must hold
  /// training.n_val_trials: without /split, the last n_val trials of the file are the validation
  /// split, the others the training split; must be < the number of trials. Ignored with /split.
  std::int64_t n_val = 0;
};

/// Trials held in arrays rather than a file (the Python module's `trials=`), in a trials file's
/// layout: every array row-major as NumPy holds it, the optional ones empty when absent.
struct TrialArrays {
  std::string source = "trials";  ///< names the arrays in messages, as a file's path does
  std::int64_t n_trials = 0;
  Index K = 0;                    ///< steps of each trial
  Index d_in = 0;                 ///< input channels
  std::vector<float> u_float;     ///< trials x K x d_in, or empty when u_double holds u
  std::vector<double> u_double;   ///< trials x K x d_in, or empty when u_float holds u
  std::vector<double> label;      ///< trials
  std::vector<double> context;    ///< trials, or empty
  std::vector<double> coherence;  ///< trials x 2, or empty
  std::vector<double> split;      ///< trials, or empty
};

/// The trials of one file, held in memory. Splits: with /split, split s is the trials whose /split
/// value is s, in file order. Without it, validation is the last n_val trials, train the others,
/// and test every trial of the file.
///
/// Memory: /u is kept as float (4 bytes an entry) when the file stores 32-bit floats, else as
/// double (8 bytes): trials x K x d_in entries, e.g. 10000 trials of 1000 steps and 4 channels
/// take 160 MB as float32 and 320 MB otherwise. Write /u as float32 to halve it.
///
/// fill() only reads memory (no HDF5 calls), so OpenMP threads may call it concurrently.
class TrialsFile final : public TrialSourceOf<TrialsFile> {
 public:
  /// Reads and checks every dataset. Throws InputError, whose one-line message names the file,
  /// the dataset and what is wrong: missing file, not HDF5, a missing dataset, a wrong shape or
  /// type, zero trials or steps, NaN/Inf, a label that label_type does not allow, n_val too large,
  /// or a file that crashes or hangs the HDF5 library (lrnn/core/read_isolation.hpp).
  static TrialsFile load(const std::string& path, const TrialsFileOptions& options);
  static TrialsFile load(const std::string& path, LabelType label_type) {
    return load(path, TrialsFileOptions{label_type, 0});
  }

  /// The same trials from arrays (moved in, not copied), checked by the same rules as a file's;
  /// InputError names arrays.source and the array: "trials: u[3, 5, 0] is NaN".
  static TrialsFile from_arrays(TrialArrays arrays, const TrialsFileOptions& options);

  /// Re-splits a file without /split: the last n_val trials validate. InputError if
  /// n_val >= n_trials() or n_val < 0; a no-op when the file has /split.
  void set_n_val(std::int64_t n_val);

  const std::string& path() const { return path_; }
  /// Where the datasets were found: "" (the root) or "/trials".
  const std::string& prefix() const { return prefix_; }
  std::int64_t n_trials() const { return n_trials_; }
  bool has_context() const { return !context_.empty(); }
  bool has_coherence() const { return !coherence_.empty(); }
  bool has_split() const { return has_split_; }
  /// True when /u is held as float (the file stores float32).
  bool stores_float() const { return !u_float_.empty(); }

  /// Position in the file of trial `index` of `split`; std::out_of_range if there is none.
  std::int64_t file_index(Split split, std::int64_t index) const;

  std::int64_t size(Split split) const override;
  Index d_in() const override { return d_in_; }
  Index n_steps() const override { return K_; }
  /// (context - 1) * 4 + [c1 > 0] * 2 + [c2 > 0] as for the generator (context_switch.hpp) when the
  /// file gives the trial's context (1 or 2) and coherences; 8 for a trial of unknown context in a
  /// file that has /context and /coherence; 0 for every trial when either dataset is absent.
  int condition(Split split, std::int64_t index) const override;

  // fill() (TrialSourceOf): copies trial indices[j] of `split`: u_k to column k * count + j of
  // out.u, its label to out.target[j], context (0 if unknown), coherence (0 if unknown) and the
  // index within the split. std::out_of_range for an index outside [0, size(split)).

 private:
  static TrialsFile load_here(const std::string& path, const TrialsFileOptions& options);

  TrialsFile() = default;
  void assign_splits(std::int64_t n_val);
  friend class TrialSourceOf<TrialsFile>;
  template <typename Scalar>
  void fill_impl(Split split, const std::int64_t* indices, Index count,
                 TrialBatch<Scalar>& out) const;

  std::string path_;
  std::string prefix_;
  std::int64_t n_trials_ = 0;
  Index K_ = 0;
  Index d_in_ = 0;
  std::vector<float> u_float_;     ///< trials x K x d_in row-major, when the file stores float32
  std::vector<double> u_double_;   ///< the same otherwise
  std::vector<double> label_;      ///< trials
  std::vector<int> context_;       ///< trials, or empty
  std::vector<double> coherence_;  ///< trials x 2 row-major, or empty
  bool has_split_ = false;
  std::vector<int> split_of_;                         ///< trials: the /split values, or empty
  std::array<std::vector<std::int64_t>, 3> members_;  ///< file indices of each split, in order
};

/// Writes `trials` (one batch holding every trial, as ContextSwitchTask::fill makes it) as a
/// trials file: /u (trials x K x d_in, float64), /label (float64), /context (int32), /coherence
/// (trials x 2, float64) and, if `split` is given (one value 0, 1 or 2 per trial), /split (int32).
/// /u is chunked and deflated when large (transparent to h5py and MATLAB). Atomic (a temporary file
/// in the same directory, fsync'ed and renamed). Throws IoError naming the file if it cannot be
/// written, std::invalid_argument if `split` has the wrong size.
void write_trials_file(const std::string& path, const TrialBatch<double>& trials,
                       const std::vector<int>* split = nullptr);

}  // namespace lrnn
