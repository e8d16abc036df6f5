// The latent flow field of a low-rank network (Dubreuil, Valente et al. 2022, their ranktwo.py):
// on a grid of coordinates k = (k_1, k_2) along two directions U = [u_1 u_2] (N x 2; the m_r for
// R = 2), the state
//   x(k) = U k + (I - U U⁺) B u          (U⁺ = (UᵀU)⁻¹ Uᵀ: the input's component off the plane)
// and the velocity projected back on the plane, dk/dt = U⁺ F(x(k)) / tau.
// The grid states leave out the bulk's component of x (what g C phi(x) adds off the plane), so
// the field is exact on the plane only; the trajectories of a trial projected by U⁺ include it.
#pragma once

#include <vector>

#include "lrnn/model/network.hpp"

namespace lrnn {

/// The two directions: M for R = 2; otherwise the two leading left singular vectors of M nᵀ
/// scaled as the m_r of truncate_rank(net, 2) (R = 1: m_1 and the second is absent: throws
/// std::invalid_argument).
MatX<double> flow_directions(const Network<double>& net);

/// Coordinates U⁺ X of the columns of X (2 x columns).
MatX<double> plane_coordinates(const MatX<double>& U, const MatX<double>& X);

struct FlowField {
  std::vector<double> k1, k2;  ///< grid coordinates
  MatX<double> dk1, dk2;       ///< k2.size() x k1.size(): velocities at (k1[i], k2[j]) in (j, i)
  MatX<double> speed;          ///< |dk/dt| there
};

/// The field on the grid k1 x k2 under the constant input u.
FlowField latent_flow_field(const Network<double>& net, const MatX<double>& U,
                            const VecX<double>& u, const std::vector<double>& k1,
                            const std::vector<double>& k2);

}  // namespace lrnn
