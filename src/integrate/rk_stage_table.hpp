// The tableaus of dopri5_tableau.hpp and tsit5_tableau.hpp as arrays, for code that loops over
// the stages (the discrete adjoint's reverse sweep). Stage i (0-based) is at t0 + c[i] h; row i of
// a holds a_{i+1, j+1} for j < i; b[i] = b_{i+1} (b7 = 0 for both).
#pragma once

#include "integrate/dopri5_tableau.hpp"
#include "integrate/tsit5_tableau.hpp"
#include "lrnn/integrate/dopri5.hpp"

namespace lrnn::detail {

struct RkStageTable {
  double c[6];
  double a[6][5];
  double b[6];
};

inline constexpr RkStageTable kDopri5Stages = {
    {0.0, dopri5::c2, dopri5::c3, dopri5::c4, dopri5::c5, 1.0},
    {{},
     {dopri5::a21},
     {dopri5::a31, dopri5::a32},
     {dopri5::a41, dopri5::a42, dopri5::a43},
     {dopri5::a51, dopri5::a52, dopri5::a53, dopri5::a54},
     {dopri5::a61, dopri5::a62, dopri5::a63, dopri5::a64, dopri5::a65}},
    {dopri5::b1, 0.0, dopri5::b3, dopri5::b4, dopri5::b5, dopri5::b6}};

inline constexpr RkStageTable kTsit5Stages = {
    {0.0, tsit5::c2, tsit5::c3, tsit5::c4, tsit5::c5, 1.0},
    {{},
     {tsit5::a21},
     {tsit5::a31, tsit5::a32},
     {tsit5::a41, tsit5::a42, tsit5::a43},
     {tsit5::a51, tsit5::a52, tsit5::a53, tsit5::a54},
     {tsit5::a61, tsit5::a62, tsit5::a63, tsit5::a64, tsit5::a65}},
    {tsit5::b1, tsit5::b2, tsit5::b3, tsit5::b4, tsit5::b5, tsit5::b6}};

inline const RkStageTable& stage_table(RkScheme scheme) {
  return scheme == RkScheme::kTsit5 ? kTsit5Stages : kDopri5Stages;
}

}  // namespace lrnn::detail
