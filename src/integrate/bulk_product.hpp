// The bulk term g C Phi (and g Cᵀ A backward): the only O(N²) work of a time step.
//
// Eigen's `dst.noalias() += C * Phi` allocates its packing buffers (level-3 blocking) on every
// call once they exceed EIGEN_STACK_ALLOCATION_LIMIT, i.e. once per time step. This wrapper keeps
// one blocking workspace per shape and calls Eigen's own GEMM kernel with it, so the time loop
// allocates nothing. It uses Eigen's internal GEMM entry point (stable across Eigen 3.3-3.4).
#pragma once

#include <Eigen/Core>
#include <memory>

#include "lrnn/core/types.hpp"

namespace lrnn::detail {

template <typename Scalar>
class BulkProduct {
 public:
  /// Sizes the workspace for (n x n) times (n x cols) products.
  void reserve(Index n, Index cols) {
    if (blocking_ && n == n_ && cols == cols_) return;
    n_ = n;
    cols_ = cols;
    blocking_ = std::make_unique<Blocking>(n, cols, n, 1, true);
    blocking_->allocateAll();
  }

  /// dst += alpha * C * X   (C: n x n column-major, X and dst: n x cols column-major).
  template <typename MatC, typename MatX, typename MatD>
  void add(Scalar alpha, const MatC& C, const MatX& X, MatD& dst) {
    run<Eigen::ColMajor>(alpha, C, X, dst);
  }

  /// dst += alpha * Cᵀ * X, reading C in place (its transpose is a row-major view).
  template <typename MatC, typename MatX, typename MatD>
  void add_transposed(Scalar alpha, const MatC& C, const MatX& X, MatD& dst) {
    run<Eigen::RowMajor>(alpha, C, X, dst);
  }

 private:
  using Blocking =
      Eigen::internal::gemm_blocking_space<Eigen::ColMajor, Scalar, Scalar, Eigen::Dynamic,
                                           Eigen::Dynamic, Eigen::Dynamic, 1, false>;

  template <int LhsOrder, typename MatC, typename MatX, typename MatD>
  void run(Scalar alpha, const MatC& C, const MatX& X, MatD& dst) {
    eigen_assert(C.rows() == n_ && C.cols() == n_ && X.rows() == n_ && X.cols() == cols_);
    eigen_assert(dst.rows() == n_ && dst.cols() == cols_);
    Eigen::internal::general_matrix_matrix_product<Index, Scalar, LhsOrder, false, Scalar,
                                                   Eigen::ColMajor, false, Eigen::ColMajor,
                                                   1>::run(n_, cols_, n_, C.data(), C.outerStride(),
                                                           X.data(), X.outerStride(), dst.data(), 1,
                                                           dst.outerStride(), alpha, *blocking_,
                                                           nullptr);
  }

  Index n_ = 0;
  Index cols_ = 0;
  std::unique_ptr<Blocking> blocking_;
};

}  // namespace lrnn::detail
