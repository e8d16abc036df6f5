#include "lrnn/model/network.hpp"

#include <cmath>

#include "lrnn/core/random.hpp"
#include "lrnn/model/options.hpp"

namespace lrnn {
namespace {

// Fills a column-major matrix with N(0, std²); column j of a matrix is drawn from its own index
// so that a group's values do not depend on the sizes of the others.
template <typename Derived>
void fill_normal(Eigen::MatrixBase<Derived>& m, std::uint64_t seed, Stream stream, double stddev) {
  for (Index j = 0; j < m.cols(); ++j) {
    Philox rng(seed, stream, static_cast<std::uint64_t>(j));
    for (Index i = 0; i < m.rows(); ++i) {
      m(i, j) = static_cast<typename Derived::Scalar>(stddev * rng.normal());
    }
  }
}

}  // namespace

template <typename Scalar>
Network<Scalar> init_network(const RnnOptions& o, std::uint64_t seed) {
  const Dims d{o.N, o.R, o.d_in};
  Network<Scalar> net;
  net.g = o.g;
  net.tau = o.tau;
  net.noise_std = o.noise_std;
  net.noise_seed = seed;
  net.theta = Params<Scalar>(d);
  const double N = static_cast<double>(o.N);
  net.C.resize(d.N, d.N);
  fill_normal(net.C, seed, Stream::kInitC, 1.0 / std::sqrt(N));
  auto M = net.theta.M();
  fill_normal(M, seed, Stream::kInitM, o.M_init_std / std::sqrt(N));
  auto n = net.theta.n();
  fill_normal(n, seed, Stream::kInitN, o.N_init_std / std::sqrt(N));
  auto B = net.theta.B();
  fill_normal(B, seed, Stream::kInitB, o.B_init_std / std::sqrt(static_cast<double>(o.d_in)));
  auto w = net.theta.group(Group::kW);
  fill_normal(w, seed, Stream::kInitW, o.w_init_std / std::sqrt(N));
  net.theta.b() = Scalar(0);
  return net;
}

template Network<float> init_network<float>(const RnnOptions&, std::uint64_t);
template Network<double> init_network<double>(const RnnOptions&, std::uint64_t);

}  // namespace lrnn
