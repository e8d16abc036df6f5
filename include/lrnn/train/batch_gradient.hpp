// Loss and gradient of one batch, split by trials into blocks of at most kTrialsPerBlock. Each
// block is solved by one thread with its own gradient method and buffers; the blocks' gradients
// are then summed in block order. The blocks depend only on the batch, never on the thread count,
// so a run gives the same numbers, bit for bit, on 1, 2 or 64 threads. This is the one place where
// gradients are summed; a multi-process run adds its reduction here.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "lrnn/integrate/gradient_method.hpp"
#include "lrnn/io/config.hpp"
#include "lrnn/task/trial_source.hpp"
#include "lrnn/train/loss.hpp"

namespace lrnn {

template <typename Scalar>
class BatchGradient {
 public:
  struct Result {
    double loss = 0.0;  ///< mean window loss over the trials given
    MetricsAccumulator metrics{LabelType::kPm1};
    SolveStats stats;  ///< summed over blocks
  };

  /// Trials per block: large enough that C times a block is an efficient GEMM, small enough that
  /// a batch of 32 gives two threads work.
  static constexpr Index kTrialsPerBlock = 16;

  /// Blocks run on up to `threads` threads.
  BatchGradient(const IntegratorOptions& integrator, const TimeGrid& grid, LabelType label_type,
                int threads);

  /// Loss over the trials `indices[0..count)` of `split`, and its gradient into `grad`
  /// (overwritten). The loss is normalised by `n_total` trials, so that blocks of one batch
  /// computed elsewhere add up to the batch mean.
  Result loss_and_gradient(const Network<Scalar>& net, const TrialSource& source, Split split,
                           const std::int64_t* indices, Index count, double n_total,
                           Params<Scalar>& grad);

  /// Forward only: loss and accuracy of the trials.
  Result evaluate(const Network<Scalar>& net, const TrialSource& source, Split split,
                  const std::int64_t* indices, Index count);

  int threads() const { return threads_; }

 private:
  /// What a thread needs to solve a block: its own gradient method (with its tape) and buffers.
  /// One per thread, not per block, so memory grows with the thread count, not the trial count.
  struct Worker {
    std::unique_ptr<GradientMethod<Scalar>> method;
    TrialBatch<Scalar> batch;
    VecX<Scalar> y_bar;
    VecX<Scalar> dL_dybar;
  };
  /// What a block leaves behind, summed in block order afterwards.
  struct Block {
    Params<Scalar> grad;
    double loss = 0.0;
    MetricsAccumulator metrics{LabelType::kPm1};
    SolveStats stats;
  };
  template <typename Work>
  Result run(const Network<Scalar>& net, const TrialSource& source, Split split,
             const std::int64_t* indices, Index count, Work&& work);

  IntegratorOptions integrator_;
  TimeGrid grid_;
  LabelType label_type_;
  int threads_;
  std::vector<Worker> workers_;
  std::vector<Block> blocks_;
};

}  // namespace lrnn
