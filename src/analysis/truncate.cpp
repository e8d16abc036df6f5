#include "lrnn/analysis/truncate.hpp"

#include <fmt/format.h>

#include <Eigen/QR>
#include <Eigen/SVD>
#include <cmath>
#include <stdexcept>

#include "lrnn/analysis/resample.hpp"

namespace lrnn {

namespace {

// M nᵀ / N = U diag(s) Vᵀ with U, V: N x R, from the thin QR factorisations of M and n.
struct LowRankSvd {
  MatX<double> U, V;
  VecX<double> s;
};

LowRankSvd low_rank_svd(const Network<double>& net) {
  const Dims d = net.dims();
  const Eigen::HouseholderQR<MatX<double>> qr_m(net.theta.M()), qr_n(net.theta.n());
  const MatX<double> Q_m = qr_m.householderQ() * MatX<double>::Identity(d.N, d.R);
  const MatX<double> Q_n = qr_n.householderQ() * MatX<double>::Identity(d.N, d.R);
  const MatX<double> R_m = qr_m.matrixQR().topRows(d.R).triangularView<Eigen::Upper>();
  const MatX<double> R_n = qr_n.matrixQR().topRows(d.R).triangularView<Eigen::Upper>();
  const Eigen::JacobiSVD<MatX<double>> svd(R_m * R_n.transpose() / static_cast<double>(d.N),
                                           Eigen::ComputeFullU | Eigen::ComputeFullV);
  return {Q_m * svd.matrixU(), Q_n * svd.matrixV(), svd.singularValues()};
}

}  // namespace

Network<double> truncate_rank(const Network<double>& net, Index r) {
  const Dims d = net.dims();
  if (r < 1 || r > d.R) {
    throw std::invalid_argument(fmt::format("truncate_rank: r = {} is not in [1, R = {}]", r, d.R));
  }
  const LowRankSvd svd = low_rank_svd(net);
  const VecX<double> root = svd.s.head(r).cwiseSqrt() * std::sqrt(static_cast<double>(d.N));
  Network<double> out = net;
  out.theta = Params<double>(Dims{d.N, r, d.d_in});
  out.theta.M() = svd.U.leftCols(r) * root.asDiagonal();
  out.theta.n() = svd.V.leftCols(r) * root.asDiagonal();
  out.theta.B() = net.theta.B();
  out.theta.w() = net.theta.w();
  out.theta.b() = net.theta.b();
  return out;
}

TruncationReport evaluate_truncated(const Network<double>& net, const Config& config, Index r,
                                    std::int64_t trials, int threads) {
  TruncationReport report;
  const Network<double> cut = truncate_rank(net, r);
  report.rank = r;
  // Eckart-Young: the Frobenius error of the best rank-r approximation is |s_{r+1..R}|.
  report.singular_values = low_rank_svd(net).s;
  const Index R = net.dims().R;
  report.relative_error = report.singular_values.tail(R - r).norm() / report.singular_values.norm();
  report.trials = trials;
  ResampleOptions options;
  options.trials = trials;
  options.threads = threads;
  const std::vector<TaskMetrics> metrics =
      evaluate_networks([&](int k) { return k == 0 ? net : cut; }, 2, net.dims(), config, options);
  report.trained = metrics[0];
  report.truncated = metrics[1];
  return report;
}

}  // namespace lrnn
