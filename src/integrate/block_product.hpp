// The interface of the bulk products that BulkProduct hands off (bulk_product.hpp): out = C X or
// Cᵀ X for a fixed n x n C and n x cols blocks X, float32 and column-major in memory, C prepared
// once per pack(). Two implementations: OneDnnMatmul (onednn_matmul.hpp: oneDNN's float32 or
// bfloat16 matmul) and Bf16Gemm (bf16_gemm.hpp: oneDNN's bfloat16 matmul or lrnn's fallback).
#pragma once

#include <string>

#include "lrnn/core/types.hpp"

namespace lrnn::detail {

class BlockProduct {
 public:
  BlockProduct() = default;
  virtual ~BlockProduct() = default;
  BlockProduct(const BlockProduct&) = delete;
  BlockProduct& operator=(const BlockProduct&) = delete;

  /// Sizes for (n x n) times (n x cols) products. Allocates only on a new shape.
  virtual void reserve(Index n, Index cols) = 0;

  /// Prepares C (n x n, column-major, leading dimension ldc) for out = C X (transposed = false)
  /// or out = Cᵀ X (true). Call again whenever C changes.
  virtual void pack(const float* C, Index ldc, bool transposed) = 0;

  /// C X or Cᵀ X (as packed), X n x cols with leading dimension ldx: returns the n x cols result
  /// (column-major, leading dimension n), valid until the next call.
  virtual const float* multiply(bool transposed, const float* X, Index ldx) = 0;

  /// The kernel that runs the products, for logs and lrnn-bench.
  virtual std::string implementation() const = 0;
};

}  // namespace lrnn::detail
