#include "lrnn/analysis/flow_field.hpp"

#include <Eigen/Cholesky>
#include <stdexcept>

#include "lrnn/analysis/fixed_points.hpp"
#include "lrnn/analysis/truncate.hpp"

namespace lrnn {

MatX<double> flow_directions(const Network<double>& net) {
  if (net.dims().R < 2) {
    throw std::invalid_argument("flow_directions: a flow field in a plane needs R >= 2");
  }
  if (net.dims().R == 2) return net.theta.M();
  return truncate_rank(net, 2).theta.M();
}

MatX<double> plane_coordinates(const MatX<double>& U, const MatX<double>& X) {
  return (U.transpose() * U).ldlt().solve(U.transpose() * X);
}

FlowField latent_flow_field(const Network<double>& net, const MatX<double>& U,
                            const VecX<double>& u, const std::vector<double>& k1,
                            const std::vector<double>& k2) {
  const auto n1 = static_cast<Index>(k1.size()), n2 = static_cast<Index>(k2.size());
  const VecX<double> Bu = net.theta.B() * u;
  const VecX<double> off_plane = Bu - U * plane_coordinates(U, Bu);
  MatX<double> K(2, n1 * n2);
  for (Index j = 0; j < n2; ++j) {
    for (Index i = 0; i < n1; ++i) {
      K(0, j * n1 + i) = k1[static_cast<std::size_t>(i)];
      K(1, j * n1 + i) = k2[static_cast<std::size_t>(j)];
    }
  }
  MatX<double> X = U * K;
  X.colwise() += off_plane;
  const MatX<double> V = plane_coordinates(U, dynamics_rhs(net, u, X)) / net.tau;
  FlowField f;
  f.k1 = k1;
  f.k2 = k2;
  f.dk1.resize(n2, n1);
  f.dk2.resize(n2, n1);
  for (Index j = 0; j < n2; ++j) {
    for (Index i = 0; i < n1; ++i) {
      f.dk1(j, i) = V(0, j * n1 + i);
      f.dk2(j, i) = V(1, j * n1 + i);
    }
  }
  f.speed = (f.dk1.array().square() + f.dk2.array().square()).sqrt();
  return f;
}

}  // namespace lrnn
