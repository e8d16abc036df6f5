// The parameter points at which every gradient method is checked against finite differences, and
// the naming of the parametrised cases (e.g. "default_M").
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <tuple>

#include "lrnn/config/config.hpp"
#include "lrnn/model/params.hpp"

namespace lrnn::test {

struct GradientPoint {
  std::string name;
  double init_scale;  ///< multiplies all the initial standard deviations
  double bias;        ///< the readout bias b
  LabelType label_type;
};

inline void PrintTo(const GradientPoint& p, std::ostream* os) { *os << p.name; }

/// Small weights, the default scales, strong weights, and the logistic loss.
inline const GradientPoint kGradientPoints[] = {
    {"small", 0.3, 0.0, LabelType::kPm1},
    {"default", 1.0, 0.1, LabelType::kPm1},
    {"strong", 3.0, -0.3, LabelType::kPm1},
    {"logistic", 1.5, 0.2, LabelType::kBinary},
};

/// Every (point, group) pair.
inline auto all_points_and_groups() {
  return ::testing::Combine(
      ::testing::ValuesIn(kGradientPoints),
      ::testing::Values(Group::kM, Group::kN, Group::kB, Group::kW, Group::kBias));
}

/// "default_M" and the like.
struct PointGroupName {
  template <typename Info>
  std::string operator()(const Info& info) const {
    return std::get<0>(info.param).name + "_" + std::string(group_name(std::get<1>(info.param)));
  }
};

}  // namespace lrnn::test
