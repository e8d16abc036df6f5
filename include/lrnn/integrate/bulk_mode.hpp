// How a solve computes its bulk product g C phi(X) (and g Cᵀ λ backward), the only O(N²) work of
// a time step (DESIGN.md section 4, training.precision).
#pragma once

#include <string>

namespace lrnn {

enum class BulkMode {
  kNative,  ///< in the solve's own scalar type (float32 or float64)
  /// bfloat16 inputs (C and the block, rounded to nearest even) with float32 accumulation, for
  /// float solves (training.precision: bf16): oneDNN's matmul where the CPU has bfloat16
  /// instructions (AMX-BF16, AVX512-BF16), else lrnn's own fallback (core/bf16.hpp)
  kBf16,
};

/// Which kernel float32 bulk products of an N-unit network run on here, for blocks of `trials`
/// trials (BulkMode::kNative): "oneDNN <kernel> (<ISA>)" where lrnn chooses oneDNN's matmul (a
/// CPU with AVX-512, a shape where it measured faster, LRNN_F32_EIGEN not set), else "lrnn's
/// packed Eigen kernel (why)".
std::string float32_backend(int N, int trials = 16);

/// Which backend and instruction set BulkMode::kBf16 runs on here, for logs and lrnn-bench:
/// "oneDNN <kernel> (AMX-BF16)", "oneDNN <kernel> (AVX512-BF16)", or "lrnn fallback (why): slow".
std::string bf16_backend();

}  // namespace lrnn
