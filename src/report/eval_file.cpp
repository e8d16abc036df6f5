#include "lrnn/report/eval_file.hpp"

#include <Eigen/Core>
#include <vector>

#include "io/hdf5_file.hpp"

namespace lrnn {
namespace {

using detail::Shape;
using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

hsize_t hs(Index n) { return static_cast<hsize_t>(n); }

void write_file(H5::H5File& file, const TrialTraces& tr, const EvalMetrics& m,
                const EvalFileMeta& meta) {
  const Index n = tr.n_trials(), K = tr.n_obs(), R = tr.rank();
  detail::write_int_attr(file, "format_version", kEvalFormatVersion);
  detail::write_string_attr(file, "checkpoint", meta.checkpoint);
  detail::write_int_attr(file, "step", meta.step);
  detail::write_string_attr(file, "integrator", meta.integrator);
  detail::write_string_attr(file, "precision", meta.precision);
  detail::write_string_attr(file, "trials_source", meta.trials);
  detail::write_string_attr(file, "label_type", to_string(m.label_type));
  detail::write_double_attr(file, "loss", m.task.loss);
  detail::write_double_attr(file, "accuracy", m.task.accuracy);
  detail::write_double_attr(file, "accuracy_ctx1", m.task.accuracy_ctx[0]);
  detail::write_double_attr(file, "accuracy_ctx2", m.task.accuracy_ctx[1]);
  detail::write_string_attr(file, "config_yaml", meta.config_yaml);
  detail::write_string_attr(file, "lrnn_version", "0.1.0");

  detail::write_dataset(file, "time", Shape{hs(K)}, tr.t.data());
  H5::Group g = file.createGroup("trials");
  detail::write_dataset(g, "u", Shape{hs(n), hs(K), hs(tr.d_in)}, tr.u.data(), true);
  const RowMajor y = tr.y;
  detail::write_dataset(g, "y", Shape{hs(n), hs(K)}, y.data(), true);
  detail::write_dataset(g, "y_bar", Shape{hs(n)}, tr.y_bar.data());
  detail::write_dataset(g, "label", Shape{hs(n)}, tr.target.data());
  std::vector<int> choice(static_cast<std::size_t>(n));
  for (Index j = 0; j < n; ++j) {
    choice[static_cast<std::size_t>(j)] = reports_plus(m.label_type, tr.y_bar[j]) ? 1 : -1;
  }
  detail::write_dataset(g, "choice", Shape{hs(n)}, choice.data());
  detail::write_dataset(g, "context", Shape{hs(n)}, tr.context.data());
  const RowMajor coherence = tr.coherence;
  detail::write_dataset(g, "coherence", Shape{hs(n), 2}, coherence.data());
  // κ as trials x K x R, R fastest.
  std::vector<double> kappa(static_cast<std::size_t>(n * K * R));
  for (Index j = 0; j < n; ++j) {
    for (Index k = 0; k < K; ++k) {
      for (Index r = 0; r < R; ++r) {
        kappa[static_cast<std::size_t>((j * K + k) * R + r)] =
            tr.kappa[static_cast<std::size_t>(r)](j, k);
      }
    }
  }
  detail::write_dataset(g, "kappa", Shape{hs(n), hs(K), hs(R)}, kappa.data(), true);
}

}  // namespace

void write_eval_file(const std::string& path, const TrialTraces& traces, const EvalMetrics& metrics,
                     const EvalFileMeta& meta) {
  detail::write_atomically(path,
                           [&](H5::H5File& file) { write_file(file, traces, metrics, meta); });
}

}  // namespace lrnn
