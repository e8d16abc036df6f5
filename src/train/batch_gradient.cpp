#include "lrnn/train/batch_gradient.hpp"

#include <omp.h>

#include <exception>

#include "core/denormals.hpp"

namespace lrnn {

template <typename Scalar>
BatchGradient<Scalar>::BatchGradient(const IntegratorOptions& integrator, const TimeGrid& grid,
                                     LabelType label_type, int threads)
    : integrator_(integrator),
      grid_(grid),
      label_type_(label_type),
      threads_(std::max(1, threads)) {
  // Parallelism is over blocks of trials: Eigen must not start threads of its own inside them
  // (its parallel GEMM busy-waits, which is ruinous when cores are oversubscribed).
  Eigen::setNbThreads(1);
}

template <typename Scalar>
template <typename Work>
typename BatchGradient<Scalar>::Result BatchGradient<Scalar>::run(const Network<Scalar>& net,
                                                                  const TrialSource& source,
                                                                  Split split,
                                                                  const std::int64_t* indices,
                                                                  Index count, Work&& work) {
  const Index n_blocks = (count + kTrialsPerBlock - 1) / kTrialsPerBlock;
  if (static_cast<Index>(blocks_.size()) < n_blocks)
    blocks_.resize(static_cast<std::size_t>(n_blocks));
  const int threads = static_cast<int>(std::min<Index>(threads_, n_blocks));
  while (static_cast<int>(workers_.size()) < threads) {
    workers_.emplace_back().method = make_gradient_method<Scalar>(integrator_, grid_);
  }
  std::exception_ptr error;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (Index i = 0; i < n_blocks; ++i) {
    try {
      const detail::FlushDenormals ftz;
      Worker& wk = workers_[static_cast<std::size_t>(omp_get_thread_num())];
      Block& b = blocks_[static_cast<std::size_t>(i)];
      // Blocks of kTrialsPerBlock, the last one shorter: a function of count alone.
      const Index first = i * kTrialsPerBlock;
      const Index last = std::min(count, first + kTrialsPerBlock);
      source.fill(split, indices + first, last - first, wk.batch);
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
  Result r;
  r.metrics = MetricsAccumulator(label_type_);
  for (Index i = 0; i < n_blocks; ++i) {
    const Block& b = blocks_[static_cast<std::size_t>(i)];
    r.loss += b.loss;
    r.metrics.merge(b.metrics);
    r.stats.merge_max(b.stats);
  }
  return r;
}

template <typename Scalar>
typename BatchGradient<Scalar>::Result BatchGradient<Scalar>::loss_and_gradient(
    const Network<Scalar>& net, const TrialSource& source, Split split, const std::int64_t* indices,
    Index count, double n_total, Params<Scalar>& grad) {
  Result r = run(net, source, split, indices, count, [&](Worker& wk, Block& b) {
    b.loss = batch_loss(label_type_, wk.y_bar, wk.batch.target, n_total, &wk.dL_dybar);
    if (b.grad.dims() != net.dims()) b.grad = Params<Scalar>(net.dims());
    b.grad.set_zero();
    wk.method->backward(net, wk.batch, wk.dL_dybar, b.grad);
  });
  // The sum over blocks, in block order.
  if (grad.dims() != net.dims()) grad = Params<Scalar>(net.dims());
  grad.set_zero();
  const Index n_blocks = (count + kTrialsPerBlock - 1) / kTrialsPerBlock;
  for (Index i = 0; i < n_blocks; ++i) {
    grad.flat() += blocks_[static_cast<std::size_t>(i)].grad.flat();
  }
  return r;
}

template <typename Scalar>
typename BatchGradient<Scalar>::Result BatchGradient<Scalar>::evaluate(const Network<Scalar>& net,
                                                                       const TrialSource& source,
                                                                       Split split,
                                                                       const std::int64_t* indices,
                                                                       Index count) {
  return run(net, source, split, indices, count, [&](Worker& wk, Block& b) {
    b.loss = batch_loss<Scalar>(label_type_, wk.y_bar, wk.batch.target, static_cast<double>(count),
                                nullptr);
  });
}

template class BatchGradient<float>;
template class BatchGradient<double>;

}  // namespace lrnn
