// bfloat16 bulk products: oneDNN's matmul where the CPU has bfloat16 instructions, lrnn's own
// rounding plus the float32 GEMM elsewhere (bf16_gemm.hpp). oneDNN is used only here; a build
// without it (LRNN_WITH_ONEDNN off) has the fallback alone.
#include "integrate/bf16_gemm.hpp"

#include <immintrin.h>
#include <omp.h>

#include <bit>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "integrate/bulk_product.hpp"
#include "lrnn/integrate/bulk_mode.hpp"

#if LRNN_WITH_ONEDNN
#include <dnnl.hpp>
#endif

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

// out[i] = to_bf16_bits(x[i]) for i < n: with the AVX512-BF16 instruction when the build targets
// it (-march=native on such a CPU; 4x faster), which rounds the same way.
void to_bf16_block(const float* x, Index n, std::uint16_t* out) {
  Index i = 0;
#if defined(__AVX512BF16__) && defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    const __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), std::bit_cast<__m256i>(v));
  }
#endif
  for (; i < n; ++i) out[i] = to_bf16_bits(x[i]);
}

bool fallback_forced() {
  const char* v = std::getenv("LRNN_BF16_FALLBACK");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

#if LRNN_WITH_ONEDNN
// The instruction sets oneDNN found: AMX-BF16 includes AVX512-BF16's bits.
const char* onednn_bf16_isa() {
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  if ((isa & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx) return "AMX-BF16";
  if ((isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16) return "AVX512-BF16";
  return nullptr;
}
#endif

}  // namespace

bool bf16_uses_onednn() {
#if LRNN_WITH_ONEDNN
  static const bool has_isa = onednn_bf16_isa() != nullptr;
  return has_isa && !fallback_forced();
#else
  return false;
#endif
}

#if LRNN_WITH_ONEDNN
namespace {

// oneDNN's work on one thread, whatever the caller's OpenMP settings: the trainer's parallelism
// is over blocks of trials, a product summed by one thread sums in one order, and oneDNN would
// otherwise start a team for every small product and conversion (whose idle threads then spin:
// 40x slower at N = 32 on a busy machine). A primitive keeps the thread count it was made with,
// so making one is guarded too.
class OneOpenMpThread {
 public:
  OneOpenMpThread() : threads_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneOpenMpThread() { omp_set_num_threads(threads_); }
  OneOpenMpThread(const OneOpenMpThread&) = delete;
  OneOpenMpThread& operator=(const OneOpenMpThread&) = delete;

 private:
  int threads_;
};

// One direction's matmul: dst (cols x n, row-major: the n x cols block column-major) = src (cols
// x n: the block X, converted) times weights (n x n: Cᵀ for C X, C for Cᵀ X, in the kernel's own
// layout).
struct OneDnnProduct {
  dnnl::matmul matmul;
  dnnl::memory::desc weights_desc;
  dnnl::memory weights;
  dnnl::memory src;
  dnnl::memory dst;
  std::string impl;
  // C (float32, column-major with leading dimension ld) into weights: made on the first pack()
  // and again only when ld changes (making one costs more than running it).
  dnnl::memory user;
  dnnl::reorder convert;
  Index ld = -1;
};

}  // namespace
#endif

struct Bf16Gemm::Impl {
  Index n = -1, cols = -1;
  bool onednn = bf16_uses_onednn();
  // Fallback: C (or Cᵀ) and the block rounded to bfloat16 values, multiplied in float32.
  MatX<float> C_rounded[2];
  MatX<float> X_rounded;
  MatX<float> out;
  BulkProduct<float> gemm[2];
#if LRNN_WITH_ONEDNN
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  OneDnnProduct product[2];
  std::vector<std::uint16_t> src_bits;
#endif
};

Bf16Gemm::Bf16Gemm() : impl_(std::make_unique<Impl>()) {}
Bf16Gemm::~Bf16Gemm() = default;

void Bf16Gemm::reserve(Index n, Index cols) {
  Impl& m = *impl_;
  if (n == m.n && cols == m.cols) return;
  m.n = n;
  m.cols = cols;
  m.out.resize(n, cols);
  if (!m.onednn) {
    m.X_rounded.resize(n, cols);
    for (int d = 0; d < 2; ++d) {
      m.C_rounded[d].resize(n, n);
      m.gemm[d].reserve(n, cols);
    }
    return;
  }
#if LRNN_WITH_ONEDNN
  using dnnl::memory;
  const memory::dims src_dims{cols, n}, w_dims{n, n};
  const memory::desc src_md(src_dims, memory::data_type::bf16, memory::format_tag::ab);
  const memory::desc dst_md(src_dims, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc w_any(w_dims, memory::data_type::bf16, memory::format_tag::any);
  m.src_bits.assign(static_cast<std::size_t>(n * cols), 0);
  // oneDNN fixes a primitive's thread count when it makes it: one, as it runs.
  const OneOpenMpThread one;
  for (int d = 0; d < 2; ++d) {
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, w_any, dst_md), m.engine);
    OneDnnProduct& p = m.product[d];
    p.matmul = dnnl::matmul(pd);
    p.weights_desc = pd.weights_desc();
    p.weights = memory(p.weights_desc, m.engine);
    p.src = memory(src_md, m.engine, m.src_bits.data());
    p.dst = memory(dst_md, m.engine, m.out.data());
    p.impl = pd.impl_info_str();
    p.ld = -1;  // new weights: the conversion is made again
  }
#endif
}

void Bf16Gemm::pack(const float* C, Index ldc, bool transposed) {
  Impl& m = *impl_;
  const int d = transposed ? 1 : 0;
  if (!m.onednn) {
    const Eigen::Map<const MatX<float>, 0, Eigen::OuterStride<>> c(C, m.n, m.n,
                                                                   Eigen::OuterStride<>(ldc));
    if (transposed) {
      m.C_rounded[d] = c.transpose().unaryExpr([](float x) { return round_to_bf16(x); });
    } else {
      m.C_rounded[d] = c.unaryExpr([](float x) { return round_to_bf16(x); });
    }
    m.gemm[d].pack(m.C_rounded[d], BulkProduct<float>::kForward);
    return;
  }
#if LRNN_WITH_ONEDNN
  using dnnl::memory;
  // weights[k][i] multiplies src[b][k] into dst[b][i]: C[i, k] for C X, C[k, i] for Cᵀ X.
  OneDnnProduct& p = m.product[d];
  const OneOpenMpThread one;
  if (p.ld != ldc) {
    const memory::dims strides = transposed ? memory::dims{1, ldc} : memory::dims{ldc, 1};
    p.user = memory(memory::desc({m.n, m.n}, memory::data_type::f32, strides), m.engine,
                    DNNL_MEMORY_NONE);
    p.convert = dnnl::reorder(p.user, p.weights);
    p.ld = ldc;
  }
  p.user.set_data_handle(const_cast<float*>(C));  // read only
  // f32 to bf16 in the reorder rounds to nearest even, as to_bf16_bits does.
  p.convert.execute(m.stream, p.user, p.weights);
  m.stream.wait();
#endif
}

const float* Bf16Gemm::multiply(bool transposed, const float* X, Index ldx) {
  Impl& m = *impl_;
  const int d = transposed ? 1 : 0;
  const Eigen::Map<const MatX<float>, 0, Eigen::OuterStride<>> x(X, m.n, m.cols,
                                                                 Eigen::OuterStride<>(ldx));
  if (!m.onednn) {
    m.X_rounded = x.unaryExpr([](float v) { return round_to_bf16(v); });
    m.out.setZero();
    m.gemm[d].add(1.0f, m.C_rounded[d], m.X_rounded, m.out);
    return m.out.data();
  }
#if LRNN_WITH_ONEDNN
  for (Index b = 0; b < m.cols; ++b) to_bf16_block(X + b * ldx, m.n, m.src_bits.data() + b * m.n);
  OneDnnProduct& p = m.product[d];
  const OneOpenMpThread one;
  p.matmul.execute(m.stream,
                   {{DNNL_ARG_SRC, p.src}, {DNNL_ARG_WEIGHTS, p.weights}, {DNNL_ARG_DST, p.dst}});
  m.stream.wait();
#endif
  return m.out.data();
}

std::string Bf16Gemm::implementation() const {
#if LRNN_WITH_ONEDNN
  if (impl_->onednn) return impl_->product[0].impl;
#endif
  return "fallback";
}

std::string bf16_backend_description() {
#if LRNN_WITH_ONEDNN
  if (bf16_uses_onednn()) {
    Bf16Gemm probe;
    probe.reserve(64, 16);
    return "oneDNN " + probe.implementation() + " (" + onednn_bf16_isa() + ")";
  }
  if (fallback_forced()) return "lrnn fallback (LRNN_BF16_FALLBACK is set): slow";
  return "lrnn fallback (this CPU has no AVX512-BF16 or AMX-BF16 instructions): slow";
#else
  return fallback_forced() ? "lrnn fallback (LRNN_BF16_FALLBACK is set): slow"
                           : "lrnn fallback (built without oneDNN): slow";
#endif
}

}  // namespace lrnn::detail

namespace lrnn {

std::string bf16_backend() { return detail::bf16_backend_description(); }

}  // namespace lrnn
