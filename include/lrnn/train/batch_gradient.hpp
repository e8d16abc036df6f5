// Loss and gradient of one batch, split by trials into blocks of at most kTrialsPerBlock. Each
// block is solved by one thread with its own gradient method and buffers; the blocks' gradients
// are then summed in block order. The blocks depend only on the batch, never on the thread count,
// so a run gives the same numbers, bit for bit, on 1, 2 or 64 threads. This is the one place where
// gradients are summed.
//
// Over P ranks of a communicator (data-parallel training with MPI), rank r solves the contiguous
// range rank_range(n_blocks, r, P) of the same blocks, sums them in block order, and one allreduce
// of [gradient, loss, metrics, extra numbers] in double adds the ranks' partial sums: every rank
// ends with the batch's gradient, equal to the one-process gradient up to the order of the P
// partial sums (and float32 rounding of each partial sum). With one rank nothing is converted and
// the numbers are those of a serial run, bit for bit.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/comm.hpp"
#include "lrnn/integrate/gradient_method.hpp"
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

  /// Blocks run on up to `threads` threads of this rank; the blocks are shared among the ranks of
  /// `comm` (not owned; the serial communicator by default).
  BatchGradient(const IntegratorOptions& integrator, const TimeGrid& grid, LabelType label_type,
                int threads, const Comm& comm = serial_comm());

  /// Loss over the trials `indices[0..count)` of `split`, and its gradient into `grad`
  /// (overwritten). The loss is normalised by `n_total` trials, so that blocks of one batch
  /// computed elsewhere add up to the batch mean. Collective: every rank passes the same trials,
  /// solves its share of the blocks, and receives the sums over all ranks. `also_sum` are numbers
  /// summed over the ranks in the same allreduce (a stop flag, say), so that a step needs one.
  Result loss_and_gradient(const Network<Scalar>& net, const TrialSource& source, Split split,
                           const std::int64_t* indices, Index count, double n_total,
                           Params<Scalar>& grad, std::span<double> also_sum = {});

  /// Forward only: loss and accuracy of the trials. Collective like loss_and_gradient.
  Result evaluate(const Network<Scalar>& net, const TrialSource& source, Split split,
                  const std::int64_t* indices, Index count);

  int threads() const { return threads_; }

  /// A flag every solve polls once per time step (GradientMethod::set_cancel; not owned, null:
  /// never). Once it is set, loss_and_gradient() and evaluate() throw Cancelled, leaving `grad`
  /// undefined. For one rank only: a rank that stops alone would leave the others waiting in the
  /// allreduce.
  void set_cancel(const std::atomic<bool>* flag);

  /// The epoch whose recurrent noise the training split's trials get (TrialBatch::noise_epoch);
  /// validation and test trials always get epoch 0's. Default 0.
  void set_noise_epoch(std::uint32_t epoch) { noise_epoch_ = epoch; }

  /// How every solve computes its bulk product (GradientMethod::set_bulk_mode).
  void set_bulk_mode(BulkMode mode);

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
  /// Solves this rank's blocks [first, last) of the trials and sums their loss, metrics and
  /// stats in block order (not over ranks).
  template <typename Work>
  Result run(const Network<Scalar>& net, const TrialSource& source, Split split,
             const std::int64_t* indices, Index count, Index first, Index last, Work&& work);
  /// The blocks of `count` trials that this rank solves.
  RankRange my_blocks(Index count) const;
  /// Sums r (and grad, and also_sum, when given) over the ranks: one allreduce (a second one, of
  /// the solver counts, for rk45 only).
  void reduce(Result& r, Params<Scalar>* grad, std::span<double> also_sum);

  IntegratorOptions integrator_;
  TimeGrid grid_;
  LabelType label_type_;
  int threads_;
  const Comm* comm_;
  const std::atomic<bool>* cancel_ = nullptr;
  std::uint32_t noise_epoch_ = 0;
  BulkMode bulk_mode_ = BulkMode::kNative;
  std::vector<Worker> workers_;
  std::vector<Block> blocks_;
  std::vector<double> reduce_buffer_;  ///< [grad, loss, metrics, also_sum], sized once
};

}  // namespace lrnn
