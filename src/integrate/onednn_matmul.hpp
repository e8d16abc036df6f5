// oneDNN's matmul for the bulk products (Debian libdnnl-dev; compiled in when lrnn is built with
// LRNN_WITH_ONEDNN): out = C X or Cᵀ X for a fixed n x n C and n x cols blocks X, float32 and
// column-major in memory. C is converted and reordered into the kernel's own layout once per
// pack(); a product only points the kernel at its block (float32) or converts the block
// (bfloat16).
//
// Two input types:
//   - kF32, the float32 solves' products where oneDNN is the faster kernel (f32_uses_onednn);
//   - kBf16, bfloat16 inputs (round to nearest even) with float32 accumulation, for
//     training.precision: bf16 on CPUs with bfloat16 instructions (bf16_gemm.hpp).
//
// Each product runs on one thread, whatever the caller's OpenMP settings: the solvers' parallelism
// is over blocks of trials, and a product summed by one thread of a given shape sums in one order,
// so its bits do not depend on the thread count. Products are made through oneDNN's C API with a
// caller-owned scratchpad; oneDNN 2.6 still allocates inside each execute (its map of arguments,
// 6 small allocations), the one exception to "the time loops allocate nothing" (test_no_alloc
// bounds it).
#pragma once

#include <memory>
#include <string>

#include "integrate/block_product.hpp"
#include "lrnn/core/types.hpp"

namespace lrnn::detail {

enum class MatmulInput { kF32, kBf16 };

/// Whether the switch `name` (LRNN_F32_EIGEN, LRNN_BF16_FALLBACK) is set: to anything but "" or
/// "0".
bool env_set(const char* name);

/// Whether this build has oneDNN.
bool onednn_built();

/// The instruction set oneDNN runs on here, as the README names it: "AMX-BF16", "AVX512-BF16",
/// "AVX-512", "AVX2" or "older"; "none" without oneDNN.
const char* onednn_isa_name();

/// Whether oneDNN has bfloat16 instructions here (AMX-BF16 or AVX512-BF16).
bool onednn_has_bf16();

/// Whether float32 products of n x n by n x cols run on oneDNN here rather than on lrnn's packed
/// Eigen kernel: lrnn built with oneDNN, a CPU with AVX-512 (oneDNN's brgemm kernels), a shape
/// where oneDNN measured faster (n >= 100 with cols >= 16, or n >= 200 with cols >= 5), and
/// LRNN_F32_EIGEN not set (read at each call).
bool f32_uses_onednn(Index n, Index cols);

/// reserve() makes the two primitives; pack() converts and reorders C into the kernel's layout;
/// implementation() is oneDNN's name for the kernel (after reserve()), e.g. "brg:avx512_core".
class OneDnnMatmul final : public BlockProduct {
 public:
  explicit OneDnnMatmul(MatmulInput input);
  ~OneDnnMatmul() override;

  void reserve(Index n, Index cols) override;
  void pack(const float* C, Index ldc, bool transposed) override;
  const float* multiply(bool transposed, const float* X, Index ldx) override;
  std::string implementation() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lrnn::detail
