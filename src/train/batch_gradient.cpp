#include "lrnn/train/batch_gradient.hpp"

#include <omp.h>

#include <algorithm>
#include <exception>

#include "core/denormals.hpp"

namespace lrnn {

template <typename Scalar>
BatchGradient<Scalar>::BatchGradient(const IntegratorOptions& integrator, const TimeGrid& grid,
                                     LabelType label_type, int threads, const Comm& comm)
    : integrator_(integrator),
      grid_(grid),
      label_type_(label_type),
      threads_(std::max(1, threads)),
      comm_(&comm) {
  // Parallelism is over blocks of trials: Eigen must not start threads of its own inside them
  // (its parallel GEMM busy-waits, which is ruinous when cores are oversubscribed).
  Eigen::setNbThreads(1);
}

template <typename Scalar>
void BatchGradient<Scalar>::set_cancel(const std::atomic<bool>* flag) {
  cancel_ = flag;
  for (Worker& wk : workers_) wk.method->set_cancel(flag);
}

template <typename Scalar>
RankRange BatchGradient<Scalar>::my_blocks(Index count) const {
  const Index n_blocks = (count + kTrialsPerBlock - 1) / kTrialsPerBlock;
  return rank_range(n_blocks, comm_->rank(), comm_->size());
}

template <typename Scalar>
template <typename Work>
typename BatchGradient<Scalar>::Result BatchGradient<Scalar>::run(
    const Network<Scalar>& net, const TrialSource& source, Split split, const std::int64_t* indices,
    Index count, Index first_block, Index last_block, Work&& work) {
  Result r;
  r.metrics = MetricsAccumulator(label_type_);
  if (last_block <= first_block) return r;  // more ranks than blocks: this one idles
  if (static_cast<Index>(blocks_.size()) < last_block)
    blocks_.resize(static_cast<std::size_t>(last_block));
  const int threads = static_cast<int>(std::min<Index>(threads_, last_block - first_block));
  while (static_cast<int>(workers_.size()) < threads) {
    auto& method = workers_.emplace_back().method;
    method = make_gradient_method<Scalar>(integrator_, grid_);
    method->set_cancel(cancel_);
  }
  std::exception_ptr error;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (Index i = first_block; i < last_block; ++i) {
    try {
      const detail::FlushDenormals ftz;
      Worker& wk = workers_[static_cast<std::size_t>(omp_get_thread_num())];
      Block& b = blocks_[static_cast<std::size_t>(i)];
      // Blocks of kTrialsPerBlock, the last one shorter: a function of count alone.
      const Index first = i * kTrialsPerBlock;
      const Index last = std::min(count, first + kTrialsPerBlock);
      source.fill(split, indices + first, last - first, wk.batch);
      wk.batch.noise_split = static_cast<std::uint32_t>(split);
      wk.batch.noise_epoch = split == Split::kTrain ? noise_epoch_ : 0;
      wk.y_bar.resize(last - first);
      wk.method->forward(net, wk.batch, wk.y_bar);
      b.metrics = MetricsAccumulator(label_type_);
      b.metrics.add(wk.y_bar, wk.batch.target, wk.batch.context);
      work(wk, b);
      b.stats = wk.method->stats();
    } catch (...) {
#pragma omp critical(lrnn_batch_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  for (Index i = first_block; i < last_block; ++i) {
    const Block& b = blocks_[static_cast<std::size_t>(i)];
    r.loss += b.loss;
    r.metrics.merge(b.metrics);
    r.stats.merge_max(b.stats);
  }
  return r;
}

template <typename Scalar>
void BatchGradient<Scalar>::reduce(Result& r, Params<Scalar>* grad, std::span<double> also_sum) {
  if (comm_->size() == 1) return;
  const std::size_t n_grad = grad ? static_cast<std::size_t>(grad->flat().size()) : 0;
  constexpr std::size_t n_metrics = MetricsAccumulator::kPackedSize;
  reduce_buffer_.resize(n_grad + 1 + n_metrics + also_sum.size());
  double* buf = reduce_buffer_.data();
  // Float gradients are summed in double, so that a float32 run over P ranks rounds once, at the
  // end, as the one-process sum does.
  if (grad) {
    Eigen::Map<VecX<double>>(buf, static_cast<Index>(n_grad)) =
        grad->flat().template cast<double>();
  }
  buf[n_grad] = r.loss;
  r.metrics.pack(buf + n_grad + 1);
  std::copy(also_sum.begin(), also_sum.end(), buf + n_grad + 1 + n_metrics);
  comm_->allreduce_sum(buf, reduce_buffer_.size());
  if (grad) {
    grad->flat() =
        Eigen::Map<const VecX<double>>(buf, static_cast<Index>(n_grad)).template cast<Scalar>();
  }
  r.loss = buf[n_grad];
  r.metrics.unpack(buf + n_grad + 1);
  std::copy_n(buf + n_grad + 1 + n_metrics, also_sum.size(), also_sum.begin());
  // Euler blocks all take the same K steps; adaptive blocks differ, and the batch's work is that
  // of the busiest block on any rank.
  if (integrator_.method == Method::kRk45) {
    double stats[4] = {
        static_cast<double>(r.stats.steps_accepted), static_cast<double>(r.stats.steps_rejected),
        static_cast<double>(r.stats.rhs_forward), static_cast<double>(r.stats.rhs_backward)};
    comm_->allreduce_max(stats, 4);
    r.stats.steps_accepted = static_cast<std::int64_t>(stats[0]);
    r.stats.steps_rejected = static_cast<std::int64_t>(stats[1]);
    r.stats.rhs_forward = static_cast<std::int64_t>(stats[2]);
    r.stats.rhs_backward = static_cast<std::int64_t>(stats[3]);
  }
}

template <typename Scalar>
typename BatchGradient<Scalar>::Result BatchGradient<Scalar>::loss_and_gradient(
    const Network<Scalar>& net, const TrialSource& source, Split split, const std::int64_t* indices,
    Index count, double n_total, Params<Scalar>& grad, std::span<double> also_sum) {
  const RankRange mine = my_blocks(count);
  Result r =
      run(net, source, split, indices, count, mine.first, mine.last, [&](Worker& wk, Block& b) {
        b.loss = batch_loss(label_type_, wk.y_bar, wk.batch.target, n_total, &wk.dL_dybar);
        if (b.grad.dims() != net.dims()) b.grad = Params<Scalar>(net.dims());
        b.grad.set_zero();
        wk.method->backward(net, wk.batch, wk.dL_dybar, b.grad);
      });
  // The sum over this rank's blocks, in block order; then over the ranks.
  if (grad.dims() != net.dims()) grad = Params<Scalar>(net.dims());
  grad.set_zero();
  for (Index i = mine.first; i < mine.last; ++i) {
    grad.flat() += blocks_[static_cast<std::size_t>(i)].grad.flat();
  }
  reduce(r, &grad, also_sum);
  return r;
}

template <typename Scalar>
typename BatchGradient<Scalar>::Result BatchGradient<Scalar>::evaluate(const Network<Scalar>& net,
                                                                       const TrialSource& source,
                                                                       Split split,
                                                                       const std::int64_t* indices,
                                                                       Index count) {
  const RankRange mine = my_blocks(count);
  Result r =
      run(net, source, split, indices, count, mine.first, mine.last, [&](Worker& wk, Block& b) {
        b.loss = batch_loss<Scalar>(label_type_, wk.y_bar, wk.batch.target,
                                    static_cast<double>(count), nullptr);
      });
  reduce(r, nullptr, {});
  return r;
}

template class BatchGradient<float>;
template class BatchGradient<double>;

}  // namespace lrnn
