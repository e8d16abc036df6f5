#include "lrnn/analysis/traces.hpp"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <memory>

#include "core/denormals.hpp"
#include "lrnn/config/config.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/integrate/adaptive_driver.hpp"
#include "lrnn/integrate/euler_bptt.hpp"
#include "lrnn/integrate/rnn_rhs.hpp"

namespace lrnn {
namespace {

constexpr Index kTrialsPerBlock = 16;

/// Writes y_k = wᵀ phi / N + b and kappa_k = nᵀ phi / N of the block's trials into column k - 1
/// (time t_k) of the output rows first .. first + B - 1.
template <typename Scalar>
void record_readouts(const Network<Scalar>& net, const MatX<Scalar>& phi, Index k, Index first,
                     TrialTraces& out) {
  const auto& theta = net.theta;
  const auto N = static_cast<double>(net.dims().N);
  const Index B = phi.cols();
  const VecX<Scalar> y = phi.transpose() * theta.w();
  const MatX<Scalar> kappa = phi.transpose() * theta.n();  // B x R
  for (Index j = 0; j < B; ++j) {
    out.y(first + j, k - 1) = static_cast<double>(y[j]) / N + static_cast<double>(theta.b());
    for (Index r = 0; r < out.rank(); ++r) {
      out.kappa[static_cast<std::size_t>(r)](first + j, k - 1) =
          static_cast<double>(kappa(j, r)) / N;
    }
  }
}

/// Writes the states x(t_k) of the block's trials (N x B) into step k - 1 of the output rows
/// first .. first + B - 1 (trials x K x N, row-major).
template <typename Derived>
void record_states(const Eigen::MatrixBase<Derived>& x, Index k, Index first, Index K,
                   TrialTraces& out) {
  const Index N = x.rows();
  for (Index j = 0; j < x.cols(); ++j) {
    double* dst = out.x.data() + ((first + j) * K + (k - 1)) * N;
    for (Index i = 0; i < N; ++i) dst[i] = static_cast<double>(x(i, j));
  }
}

/// Copies the block's labels and inputs into the output rows first .. first + B - 1.
template <typename Scalar>
void record_trials(const TrialBatch<Scalar>& batch, Index first, TrialTraces& out) {
  const Index B = batch.n_trials;
  const Index K = batch.n_steps;
  for (Index j = 0; j < B; ++j) {
    out.target[first + j] = static_cast<double>(batch.target[j]);
    out.context[static_cast<std::size_t>(first + j)] = batch.context[static_cast<std::size_t>(j)];
    out.coherence(first + j, 0) = batch.coherence(0, j);
    out.coherence(first + j, 1) = batch.coherence(1, j);
    double* u = out.u.data() + (first + j) * K * batch.d_in;
    for (Index k = 0; k < K; ++k) {
      for (Index c = 0; c < batch.d_in; ++c) {
        u[k * batch.d_in + c] = static_cast<double>(batch.u(c, k * B + j));
      }
    }
  }
}

/// One thread's solver and buffers.
template <typename Scalar>
class Recorder {
 public:
  Recorder(const IntegratorOptions& integrator, const TimeGrid& grid, bool states)
      : integrator_(integrator), grid_(grid), states_(states) {
    if (integrator.method == Method::kEuler) {
      euler_ = std::make_unique<EulerBptt<Scalar>>(grid);
      if (states_) euler_->set_state_record(&X_);
    } else {
      rhs_ = std::make_unique<RnnRhs<Scalar>>(grid);
      driver_ = std::make_unique<AdaptiveDriver<Scalar>>(driver_options(integrator));
    }
  }

  void run(const Network<Scalar>& net, const TrialSource& source, Split split,
           const std::int64_t* indices, Index count, Index first, TrialTraces& out) {
    source.fill(split, indices, count, batch_);
    batch_.noise_split = static_cast<std::uint32_t>(split);
    batch_.noise_epoch = 0;
    record_trials(batch_, first, out);
    if (euler_) {
      run_euler(net, first, out);
    } else {
      run_rk45(net, first, out);
    }
  }

 private:
  void run_euler(const Network<Scalar>& net, Index first, TrialTraces& out) {
    y_bar_.resize(batch_.n_trials);
    euler_->forward(net, batch_, y_bar_);
    for (Index k = 1; k <= grid_.K; ++k) {
      phi_ = euler_->tape_step(k);
      record_readouts(net, phi_, k, first, out);
      if (states_)
        record_states(X_.middleCols(k * batch_.n_trials, batch_.n_trials), k, first, grid_.K, out);
    }
    for (Index j = 0; j < batch_.n_trials; ++j) out.y_bar[first + j] = y_bar_[j];
  }

  void run_rk45(const Network<Scalar>& net, Index first, TrialTraces& out) {
    const Index N = net.dims().N;
    rhs_->bind(net, batch_);
    rnn_stop_times(grid_, batch_, stops_);
    rhs_->initial_state(Z_);
    Index next_k = 1;  // the next grid time t_k still to record
    const SolveResult r =
        driver_->solve(*rhs_, 0.0, grid_.T, stops_, Z_, [&](const DenseStep<Scalar>& s) {
          // Grid times in (t0, t1]; the last step ends at T exactly, so every k is reached.
          while (next_k <= grid_.K && grid_.time(next_k) <= s.t1() + 1e-9 * grid_.dt) {
            if (std::abs(grid_.time(next_k) - s.t1()) <= 1e-9 * grid_.dt) {
              phi_ = s.X1().topRows(N).array().tanh();
              if (states_) record_states(s.X1().topRows(N), next_k, first, grid_.K, out);
            } else {
              s.eval(grid_.time(next_k), dense_);
              phi_ = dense_.topRows(N).array().tanh();
              if (states_) record_states(dense_.topRows(N), next_k, first, grid_.K, out);
            }
            record_readouts(net, phi_, next_k, first, out);
            ++next_k;
          }
        });
    if (!r.ok()) throw NumericalError("rk45 solve while recording: " + r.message);
    for (Index j = 0; j < batch_.n_trials; ++j) {
      out.y_bar[first + j] = static_cast<double>(Z_(N, j));
    }
  }

  IntegratorOptions integrator_;
  TimeGrid grid_;
  TrialBatch<Scalar> batch_;
  std::unique_ptr<EulerBptt<Scalar>> euler_;
  std::unique_ptr<RnnRhs<Scalar>> rhs_;
  std::unique_ptr<AdaptiveDriver<Scalar>> driver_;
  bool states_;  ///< record x(t_k) too
  std::vector<double> stops_;
  MatX<Scalar> Z_, dense_, phi_, X_;
  VecX<Scalar> y_bar_;
};

}  // namespace

template <typename Scalar>
TrialTraces record_traces(const Network<Scalar>& net, const TrialSource& source, Split split,
                          const std::int64_t* indices, Index count,
                          const IntegratorOptions& integrator, const TimeGrid& grid, int threads,
                          const std::function<void(Index, Index)>& progress, bool record_states) {
  if (source.n_steps() != grid.K) {
    throw ConfigError("the trials have " + std::to_string(source.n_steps()) +
                      " steps but the time grid has K = " + std::to_string(grid.K));
  }
  const Index K = grid.K;
  const Index R = net.dims().R;
  TrialTraces out;
  out.t.resize(static_cast<std::size_t>(K));
  for (Index k = 1; k <= K; ++k) out.t[static_cast<std::size_t>(k - 1)] = grid.time(k);
  out.y.setZero(count, K);
  out.kappa.assign(static_cast<std::size_t>(R), MatX<double>::Zero(count, K));
  out.y_bar.setZero(count);
  out.target.setZero(count);
  out.context.assign(static_cast<std::size_t>(count), 0);
  out.coherence.setZero(count, 2);
  out.d_in = source.d_in();
  out.u.assign(static_cast<std::size_t>(count * K * out.d_in), 0.0);
  if (record_states) out.x.assign(static_cast<std::size_t>(count * K * net.dims().N), 0.0);
  out.window_start = grid.T - grid.T_avg;
  out.window_end = grid.T;

  const Index n_blocks = (count + kTrialsPerBlock - 1) / kTrialsPerBlock;
  const int n_threads =
      static_cast<int>(std::clamp<Index>(threads, 1, std::max<Index>(1, n_blocks)));
  std::vector<std::unique_ptr<Recorder<Scalar>>> recorders(static_cast<std::size_t>(n_threads));
  for (auto& r : recorders) {
    r = std::make_unique<Recorder<Scalar>>(integrator, grid, record_states);
  }
  std::exception_ptr error;
  Index done = 0;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1)
  for (Index i = 0; i < n_blocks; ++i) {
    try {
      const detail::FlushDenormals ftz;
      const Index first = i * kTrialsPerBlock;
      const Index n = std::min(count, first + kTrialsPerBlock) - first;
      recorders[static_cast<std::size_t>(omp_get_thread_num())]->run(
          net, source, split, indices + first, n, first, out);
#pragma omp critical(lrnn_record_progress)
      {
        done += n;
        if (progress) progress(done, count);
      }
    } catch (...) {
#pragma omp critical(lrnn_record_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return out;
}

template TrialTraces record_traces(const Network<float>&, const TrialSource&, Split,
                                   const std::int64_t*, Index, const IntegratorOptions&,
                                   const TimeGrid&, int, const std::function<void(Index, Index)>&,
                                   bool);
template TrialTraces record_traces(const Network<double>&, const TrialSource&, Split,
                                   const std::int64_t*, Index, const IntegratorOptions&,
                                   const TimeGrid&, int, const std::function<void(Index, Index)>&,
                                   bool);

}  // namespace lrnn
