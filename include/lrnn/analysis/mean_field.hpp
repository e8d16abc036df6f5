// The mean-field picture of a low-rank network (Mastrogiuseppe & Ostojic 2018; their fct_mf.py):
// with unit loadings v_i = (m_i, n_i, B_i, w_i) drawn from a mixture of Gaussians (population p:
// weight alpha_p, mean mu_p, covariance Sigma_p) and a bulk g C, the input of a unit of
// population p at a fixed point is Gaussian, x ~ N(mu_x,p, Delta_p), with
//   mu_x,p    = mu_p[m]·kappa + mu_p[B]·u,
//   Delta_p   = kappaᵀ Sigma_p[m,m] kappa + 2 kappaᵀ Sigma_p[m,B] u + uᵀ Sigma_p[B,B] u + Delta_0,
//   Delta_0   = g² Σ_p alpha_p <phi²>_p                              (the bulk's variance),
// and Stein's lemma gives the latent variables and the readout:
//   G_r(kappa) = Σ_p alpha_p ( mu_p[n_r] <phi>_p + (Sigma_p[n_r,m] kappa + Sigma_p[n_r,B] u)
//   <phi'>_p ), y          = Σ_p alpha_p ( mu_p[w] <phi>_p + (Sigma_p[w,m] kappa + Sigma_p[w,B] u)
//   <phi'>_p ) + b,
// with <f>_p the average of f over N(mu_x,p, Delta_p) by Gauss-Hermite quadrature. The latent
// dynamics are tau dkappa/dt = -kappa + G(kappa) (Delta_0 at its self-consistent value), and its
// fixed points solve kappa = G(kappa).
#pragma once

#include <vector>

#include "lrnn/analysis/fixed_points.hpp"
#include "lrnn/analysis/mixture.hpp"

namespace lrnn {

/// Nodes z_i and weights w_i of the q-point Gauss-Hermite rule for ∫ f(z) e^{-z²} dz
/// (Golub-Welsch), so that E f(mu + sqrt(Delta) Z), Z ~ N(0, 1), is Σ_i w_i f(mu + sqrt(2 Delta)
/// z_i) / sqrt(pi).
void gauss_hermite(int q, VecX<double>& nodes, VecX<double>& weights);

class MeanField {
 public:
  /// `mixture` fitted to the loadings of a network with these sizes, g and b; q quadrature nodes.
  MeanField(const GaussianMixture& mixture, const Dims& dims, double g, double b, int q = 100);

  /// G(kappa) for the constant input u, with Delta_0 solved self-consistently (fixed-point
  /// iteration on the scalar Delta_0); also the readout y and Delta_0 when asked.
  VecX<double> latent_map(const VecX<double>& kappa, const VecX<double>& u, double* y = nullptr,
                          double* delta0 = nullptr) const;

  struct Point {
    VecX<double> kappa;
    double y = 0.0;
    double delta0 = 0.0;    ///< the bulk's variance there
    double residual = 0.0;  ///< |kappa - G(kappa)|
    bool stable = false;    ///< every eigenvalue of dG/dkappa - I has a negative real part
  };

  /// The fixed points kappa = G(kappa) reached by Newton (finite-difference Jacobian) from each
  /// start, merged within 1e-6; those with |kappa - G(kappa)| > 1e-10 are dropped.
  std::vector<Point> fixed_points(const VecX<double>& u,
                                  const std::vector<VecX<double>>& starts) const;

 private:
  void averages(double mu, double delta, double& phi, double& dphi, double& phi2) const;

  GaussianMixture mixture_;
  Dims dims_;
  double g_, b_;
  VecX<double> nodes_, weights_;
};

/// The mean-field fixed points of one condition next to the network's.
struct MeanFieldCondition {
  std::vector<MeanField::Point> points;
  std::vector<int> nearest;      ///< per point: the nearest of the network's roots (in kappa)
  std::vector<double> distance;  ///< |kappa_mf - kappa_network|₂ to it
};

/// Fits `populations` Gaussians to `net`'s loadings (one: the sample mean and covariance) and
/// solves the mean field for each condition of `report`, from the network's roots' kappa, 0 and
/// the corners of the box they span.
std::vector<MeanFieldCondition> compare_mean_field(const Network<double>& net,
                                                   const FixedPointReport& report,
                                                   int populations = 1);

}  // namespace lrnn
