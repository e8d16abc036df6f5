#include "lrnn/analysis/mean_field.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/LU>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

namespace lrnn {
namespace {

constexpr double kRootTol = 1e-10;   // |kappa - G(kappa)| of a reported fixed point
constexpr double kMergeTol = 1e-6;   // |kappa - kappa'| under which two are one
constexpr double kDeltaTol = 1e-13;  // relative change of Delta_0 that ends its iteration

}  // namespace

void gauss_hermite(int q, VecX<double>& nodes, VecX<double>& weights) {
  if (q < 1) throw std::invalid_argument("gauss_hermite: q >= 1");
  // Golub-Welsch: the nodes are the eigenvalues of the symmetric tridiagonal Jacobi matrix with
  // off-diagonal sqrt(k/2); the weights sqrt(pi) times the squared first eigenvector components.
  MatX<double> T = MatX<double>::Zero(q, q);
  for (int k = 1; k < q; ++k) T(k, k - 1) = T(k - 1, k) = std::sqrt(k / 2.0);
  const Eigen::SelfAdjointEigenSolver<MatX<double>> eig(T);
  nodes = eig.eigenvalues();
  weights = std::sqrt(std::numbers::pi) * eig.eigenvectors().row(0).transpose().array().square();
}

MeanField::MeanField(const GaussianMixture& mixture, const Dims& dims, double g, double b, int q)
    : mixture_(mixture), dims_(dims), g_(g), b_(b) {
  if (mixture.dim() != 2 * dims.R + dims.d_in + 1) {
    throw std::invalid_argument("MeanField: the mixture does not match the network's sizes");
  }
  gauss_hermite(q, nodes_, weights_);
}

void MeanField::averages(double mu, double delta, double& phi, double& dphi, double& phi2) const {
  const double s = std::sqrt(2.0 * std::max(delta, 0.0));
  const Eigen::ArrayXd t = (mu + s * nodes_.array()).tanh();
  const double norm = 1.0 / std::sqrt(std::numbers::pi);
  phi = norm * (weights_.array() * t).sum();
  dphi = norm * (weights_.array() * (1.0 - t.square())).sum();
  phi2 = norm * (weights_.array() * t.square()).sum();
}

VecX<double> MeanField::latent_map(const VecX<double>& kappa, const VecX<double>& u, double* y,
                                   double* delta0) const {
  const Index R = dims_.R, D = dims_.d_in;
  const Index m0 = 0, n0 = R, B0 = 2 * R, w0 = 2 * R + D;
  const int P = mixture_.components();
  std::vector<double> mu(static_cast<std::size_t>(P)), base(mu.size());
  for (int p = 0; p < P; ++p) {
    const auto k = static_cast<std::size_t>(p);
    const VecX<double>& m = mixture_.means[k];
    const MatX<double>& S = mixture_.covs[k];
    mu[k] = m.segment(m0, R).dot(kappa) + m.segment(B0, D).dot(u);
    base[k] = kappa.dot(S.block(m0, m0, R, R) * kappa) +
              2.0 * kappa.dot(S.block(m0, B0, R, D) * u) + u.dot(S.block(B0, B0, D, D) * u);
  }
  // Delta_0 = g² Σ alpha_p <phi²>_p (Delta_0): a contraction for g < 1; iterate to rounding.
  double d0 = 0.0, phi = 0.0, dphi = 0.0, phi2 = 0.0;
  for (int it = 0; it < 500 && g_ > 0.0; ++it) {
    double next = 0.0;
    for (int p = 0; p < P; ++p) {
      const auto k = static_cast<std::size_t>(p);
      averages(mu[k], base[k] + d0, phi, dphi, phi2);
      next += mixture_.weights[p] * phi2;
    }
    next *= g_ * g_;
    const bool done = std::abs(next - d0) <= kDeltaTol * std::max(1.0, next);
    d0 = next;
    if (done) break;
  }
  VecX<double> G = VecX<double>::Zero(R);
  double readout = b_;
  for (int p = 0; p < P; ++p) {
    const auto k = static_cast<std::size_t>(p);
    const VecX<double>& m = mixture_.means[k];
    const MatX<double>& S = mixture_.covs[k];
    averages(mu[k], base[k] + d0, phi, dphi, phi2);
    const double a = mixture_.weights[p];
    G += a * (m.segment(n0, R) * phi +
              (S.block(n0, m0, R, R) * kappa + S.block(n0, B0, R, D) * u) * dphi);
    readout +=
        a *
        (m[w0] * phi +
         (S.block(w0, m0, 1, R).row(0).dot(kappa) + S.block(w0, B0, 1, D).row(0).dot(u)) * dphi);
  }
  if (y) *y = readout;
  if (delta0) *delta0 = d0;
  return G;
}

std::vector<MeanField::Point> MeanField::fixed_points(
    const VecX<double>& u, const std::vector<VecX<double>>& starts) const {
  const Index R = dims_.R;
  const auto residual = [&](const VecX<double>& k) { return VecX<double>(latent_map(k, u) - k); };
  const auto jacobian = [&](const VecX<double>& k) {
    // Central differences of kappa -> G(kappa) - kappa: a smooth map of R variables.
    constexpr double h = 1e-6;
    MatX<double> Jac(R, R);
    for (Index j = 0; j < R; ++j) {
      VecX<double> kp = k, km = k;
      kp[j] += h;
      km[j] -= h;
      Jac.col(j) = (residual(kp) - residual(km)) / (2 * h);
    }
    return Jac;
  };
  std::vector<Point> out;
  for (const VecX<double>& start : starts) {
    VecX<double> k = start;
    VecX<double> r = residual(k);
    for (int it = 0; it < 60 && r.norm() > 0.1 * kRootTol; ++it) {
      const VecX<double> step = jacobian(k).partialPivLu().solve(-r);
      double t = 1.0;
      bool accepted = false;
      for (int h = 0; h < 20 && !accepted; ++h, t *= 0.5) {
        const VecX<double> trial = k + t * step;
        const VecX<double> rt = residual(trial);
        if (rt.allFinite() && rt.norm() < r.norm()) {
          k = trial;
          r = rt;
          accepted = true;
        }
      }
      if (!accepted) break;
    }
    if (!(r.norm() <= kRootTol)) continue;
    bool seen = false;
    for (const Point& p : out) seen = seen || (p.kappa - k).norm() < kMergeTol;
    if (seen) continue;
    Point p;
    p.kappa = k;
    latent_map(k, u, &p.y, &p.delta0);
    p.residual = r.norm();
    const Eigen::EigenSolver<MatX<double>> eig(jacobian(k), false);
    p.stable = (eig.eigenvalues().real().array() < 0.0).all();
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<MeanFieldCondition> compare_mean_field(const Network<double>& net,
                                                   const FixedPointReport& report,
                                                   int populations) {
  MixtureOptions mo;
  mo.components = populations;
  const MeanField mf(fit_mixture(unit_loadings(net), mo), net.dims(), net.g, net.theta.b());
  std::vector<MeanFieldCondition> out;
  for (const ConditionPoints& c : report.conditions) {
    std::vector<VecX<double>> starts;
    VecX<double> lo = VecX<double>::Zero(net.dims().R), hi = lo;
    for (const FixedPoint& p : c.points) {
      if (!p.root) continue;
      starts.push_back(p.kappa);
      lo = lo.cwiseMin(p.kappa);
      hi = hi.cwiseMax(p.kappa);
    }
    starts.push_back(VecX<double>::Zero(net.dims().R));
    starts.push_back(lo);
    starts.push_back(hi);
    MeanFieldCondition m;
    m.points = mf.fixed_points(c.input.u, starts);
    for (const MeanField::Point& p : m.points) {
      int best = -1;
      double d = 0.0;
      for (std::size_t i = 0; i < c.points.size(); ++i) {
        if (!c.points[i].root) continue;
        const double di = (c.points[i].kappa - p.kappa).norm();
        if (best < 0 || di < d) {
          best = static_cast<int>(i);
          d = di;
        }
      }
      m.nearest.push_back(best);
      m.distance.push_back(best < 0 ? std::numeric_limits<double>::quiet_NaN() : d);
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace lrnn
