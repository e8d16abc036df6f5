// bfloat16 bulk products: oneDNN's matmul where the CPU has bfloat16 instructions
// (onednn_matmul.hpp), lrnn's own rounding plus the float32 GEMM elsewhere (bf16_gemm.hpp).
#include "integrate/bf16_gemm.hpp"

#include <bit>
#include <string>

#include "integrate/bulk_product.hpp"
#include "integrate/onednn_matmul.hpp"
#include "lrnn/integrate/bulk_mode.hpp"

namespace lrnn::detail {

std::uint16_t to_bf16_bits(float x) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);  // NaN stays (a quiet) NaN
  }
  if ((bits & 0x7f800000u) == 0) {
    // A subnormal becomes a zero of its sign, as the AVX512-BF16 instruction makes it (and as
    // the solver threads, which flush subnormals, treat it anyway).
    return static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  }
  // Round to nearest, ties to even: add 0x7fff plus the lowest kept bit, then truncate.
  const std::uint32_t rounded = bits + 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(rounded >> 16);
}

float round_to_bf16(float x) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(to_bf16_bits(x)) << 16);
}

namespace {

bool fallback_forced() { return env_set("LRNN_BF16_FALLBACK"); }

}  // namespace

bool bf16_uses_onednn() { return onednn_has_bf16() && !fallback_forced(); }

struct Bf16Gemm::Impl {
  Index n = -1, cols = -1;
  // oneDNN's bf16 matmul, or null for the fallback.
  std::unique_ptr<OneDnnMatmul> onednn =
      bf16_uses_onednn() ? std::make_unique<OneDnnMatmul>(MatmulInput::kBf16) : nullptr;
  // Fallback: C (or Cᵀ) and the block rounded to bfloat16 values, multiplied in float32.
  MatX<float> C_rounded[2];
  MatX<float> X_rounded;
  MatX<float> out;
  BulkProduct<float> gemm[2];
};

Bf16Gemm::Bf16Gemm() : impl_(std::make_unique<Impl>()) {}
Bf16Gemm::~Bf16Gemm() = default;

void Bf16Gemm::reserve(Index n, Index cols) {
  Impl& m = *impl_;
  if (n == m.n && cols == m.cols) return;
  m.n = n;
  m.cols = cols;
  if (m.onednn) {
    m.onednn->reserve(n, cols);
    return;
  }
  m.out.resize(n, cols);
  m.X_rounded.resize(n, cols);
  for (int d = 0; d < 2; ++d) {
    m.C_rounded[d].resize(n, n);
    m.gemm[d].keep_eigen_kernel();
    m.gemm[d].reserve(n, cols);
  }
}

void Bf16Gemm::pack(const float* C, Index ldc, bool transposed) {
  Impl& m = *impl_;
  if (m.onednn) {
    m.onednn->pack(C, ldc, transposed);
    return;
  }
  const int d = transposed ? 1 : 0;
  const Eigen::Map<const MatX<float>, 0, Eigen::OuterStride<>> c(C, m.n, m.n,
                                                                 Eigen::OuterStride<>(ldc));
  if (transposed) {
    m.C_rounded[d] = c.transpose().unaryExpr([](float x) { return round_to_bf16(x); });
  } else {
    m.C_rounded[d] = c.unaryExpr([](float x) { return round_to_bf16(x); });
  }
  m.gemm[d].pack(m.C_rounded[d], BulkProduct<float>::kForward);
}

const float* Bf16Gemm::multiply(bool transposed, const float* X, Index ldx) {
  Impl& m = *impl_;
  if (m.onednn) return m.onednn->multiply(transposed, X, ldx);
  const Eigen::Map<const MatX<float>, 0, Eigen::OuterStride<>> x(X, m.n, m.cols,
                                                                 Eigen::OuterStride<>(ldx));
  m.X_rounded = x.unaryExpr([](float v) { return round_to_bf16(v); });
  m.out.setZero();
  m.gemm[transposed ? 1 : 0].add(1.0f, m.C_rounded[transposed ? 1 : 0], m.X_rounded, m.out);
  return m.out.data();
}

std::string Bf16Gemm::implementation() const {
  return impl_->onednn ? impl_->onednn->implementation() : "fallback";
}

std::string bf16_backend_description() {
  if (bf16_uses_onednn()) {
    Bf16Gemm probe;
    probe.reserve(64, 16);
    return "oneDNN " + probe.implementation() + " (" + onednn_isa_name() + ")";
  }
  if (fallback_forced()) return "lrnn fallback (LRNN_BF16_FALLBACK is set): slow";
  if (!onednn_built()) return "lrnn fallback (built without oneDNN): slow";
  return "lrnn fallback (this CPU has no AVX512-BF16 or AMX-BF16 instructions): slow";
}

}  // namespace lrnn::detail

namespace lrnn {

std::string bf16_backend() { return detail::bf16_backend_description(); }

}  // namespace lrnn
