// Where trials come from: the contextual switch generator, or (later) a trials file. The trainer
// and the evaluator only see this interface.
#pragma once

#include <cstdint>

#include "lrnn/task/trial_batch.hpp"

namespace lrnn {

enum class Split { kTrain = 0, kValidation = 1, kTest = 2 };
const char* to_string(Split s);

class TrialSource {
 public:
  virtual ~TrialSource() = default;

  /// Trials available in a split (a generator has as many as the config asks for).
  virtual std::int64_t size(Split split) const = 0;
  /// Input channels of every trial.
  virtual Index d_in() const = 0;
  /// Steps K of every trial.
  virtual Index n_steps() const = 0;

  /// The condition of a trial, a small number >= 0 that groups trials for balanced batches (for
  /// the contextual switch task: context x stimulus signs). One group by default.
  virtual int condition(Split /*split*/, std::int64_t /*index*/) const { return 0; }

  /// Fills `out` with the trials whose indices within `split` are `indices[0..count)`.
  /// Each trial depends only on (split, index): never on the batch it is in.
  virtual void fill(Split split, const std::int64_t* indices, Index count,
                    TrialBatch<float>& out) const = 0;
  virtual void fill(Split split, const std::int64_t* indices, Index count,
                    TrialBatch<double>& out) const = 0;
};

/// A TrialSource whose fill is one template for both precisions: Derived declares
/// `template <typename Scalar> void fill_impl(Split, const std::int64_t*, Index,
/// TrialBatch<Scalar>&) const` (private, with this class a friend) and instantiates it for float
/// and double; both overloads of fill() forward to it.
template <typename Derived>
class TrialSourceOf : public TrialSource {
 public:
  void fill(Split split, const std::int64_t* indices, Index count,
            TrialBatch<float>& out) const override {
    static_cast<const Derived&>(*this).fill_impl(split, indices, count, out);
  }
  void fill(Split split, const std::int64_t* indices, Index count,
            TrialBatch<double>& out) const override {
    static_cast<const Derived&>(*this).fill_impl(split, indices, count, out);
  }
};

}  // namespace lrnn
