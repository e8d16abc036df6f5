// Eigen aliases shared by the library. Matrices are column-major: a block of states is N x B with
// one column per trial, so the bulk term C * phi(X) is one matrix product per time step.
#pragma once

#include <Eigen/Core>
#include <cstdint>

namespace lrnn {

using Index = Eigen::Index;

template <typename Scalar>
using MatX = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <typename Scalar>
using VecX = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
template <typename Scalar>
using RowVecX = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;

/// The precision a run computes in (`training.precision`). kBf16 is float32 everywhere except
/// the bulk product C times a block, whose inputs are bfloat16 (integrate/bulk_mode.hpp).
enum class Precision { kFloat32, kFloat64, kBf16 };

}  // namespace lrnn
