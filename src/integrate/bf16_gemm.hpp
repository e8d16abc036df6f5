// The bulk product with bfloat16 inputs and float32 accumulation (training.precision: bf16):
// out = C X or Cᵀ X for a fixed n x n C and n x cols blocks X, all float32 and column-major in
// memory, with C and X rounded to bfloat16 (round to nearest even) on the way in.
//
// Two backends, chosen at run time:
//   - oneDNN's matmul (onednn_matmul.hpp), on CPUs with bfloat16 instructions (AMX-BF16,
//     AVX512-BF16): C is converted and reordered into the kernel's layout once per pack(), each
//     product converts only its block;
//   - lrnn's own fallback elsewhere, or when LRNN_BF16_FALLBACK=1 is set: C and X rounded to
//     bfloat16 values held in float32 and multiplied by lrnn's packed Eigen kernel (never by
//     oneDNN's float32 one: the fallback's bits do not depend on the CPU's AVX-512). Correct,
//     not fast.
// The two sum in different orders, so their results differ in the last bits; each is
// deterministic (one thread per product: the parallelism is over blocks of trials).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "integrate/block_product.hpp"
#include "lrnn/core/types.hpp"

namespace lrnn::detail {

/// bfloat16 of x by round to nearest even (NaN stays NaN, a subnormal becomes a signed zero), as
/// its upper 16 bits.
std::uint16_t to_bf16_bits(float x);

/// x rounded to the nearest bfloat16 (ties to even), as a float.
float round_to_bf16(float x);

/// Whether the oneDNN backend runs here: lrnn built with oneDNN, a CPU with bfloat16 instructions,
/// and LRNN_BF16_FALLBACK not set (read each time: a Bf16Gemm decides when it is made).
bool bf16_uses_onednn();

/// One line for logs and lrnn-bench: which backend and instruction set the bf16 product runs on,
/// e.g. "oneDNN brg:avx512_core_bf16 (AVX512-BF16)" or "lrnn fallback (...): slow".
std::string bf16_backend_description();

/// The bfloat16 products: a OneDnnMatmul of bfloat16 inputs where bf16_uses_onednn(), else the
/// fallback, which rounds C at pack() and the block at multiply() and allocates nothing per
/// product. implementation() is oneDNN's kernel name, or "fallback".
class Bf16Gemm final : public BlockProduct {
 public:
  Bf16Gemm();
  ~Bf16Gemm() override;

  void reserve(Index n, Index cols) override;
  void pack(const float* C, Index ldc, bool transposed) override;
  const float* multiply(bool transposed, const float* X, Index ldx) override;
  std::string implementation() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lrnn::detail
