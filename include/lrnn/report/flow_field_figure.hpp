// Figures of the latent flow field (analysis/flow_field.hpp) with the fixed points of
// analysis/fixed_points.hpp, as Dubreuil et al. (2022) draw them.
#pragma once

#include <string>
#include <vector>

#include "lrnn/analysis/fixed_points.hpp"

namespace lrnn {

/// One SVG per group of conditions (the names' first word: "ctx1", "ctx2", or "input"), written
/// as dir/flow_field_<group>.svg, one panel per condition: the speed |dk/dt| shaded, arrows of
/// the direction, the condition's fixed points marked by stability, and the trajectory of its
/// noise-free trial (all the group's trials on a panel of a condition without a target) projected
/// on the same plane. `dt` is the trials' Euler step. Returns the paths written; none for R < 2.
std::vector<std::string> plot_flow_fields(const Network<double>& net,
                                          const FixedPointReport& report, double dt,
                                          const std::string& dir);

}  // namespace lrnn
