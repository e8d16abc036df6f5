// oneDNN's matmul for the bulk products (onednn_matmul.hpp). The only file that includes
// dnnl.hpp; without oneDNN (LRNN_WITH_ONEDNN off) the class exists but is never chosen.
#include "integrate/onednn_matmul.hpp"

#include <immintrin.h>
#include <omp.h>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "integrate/bf16_gemm.hpp"
#include "lrnn/integrate/bulk_mode.hpp"

#if LRNN_WITH_ONEDNN
#include <dnnl.h>

#include <dnnl.hpp>
#endif

namespace lrnn::detail {

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

namespace {

// The two float32 kernels' crossover, measured on an AMD EPYC with AVX-512 (one thread,
// `lrnn-bench --benchmark_filter=CxBlock/f32/`, docs/bench/2026-12-03-f32-crossover-epyc.txt):
// oneDNN is 1.2-1.4x faster than the packed Eigen kernel from n = 100 with blocks of 16 trials,
// and 1.2-1.6x from n = 200 with 5; with fewer trials, or smaller n, it is up to 8x slower (its
// per-call overhead, ~0.3 us, and its narrow-block paths). In between (n = 100-199 with 5
// trials, 4 trials at n >= 200) it measured 0.78-1.23x, and the Eigen kernel stays. Widths of
// 6-15 trials (a batch's last block) were not measured; they are treated as 5.
constexpr Index kF32MinN = 100;  // with a full block of kF32FullCols trials
constexpr Index kF32FullCols = 16;
constexpr Index kF32MinNNarrow = 200;  // with kF32MinCols to kF32FullCols - 1 trials
constexpr Index kF32MinCols = 5;

#if LRNN_WITH_ONEDNN
unsigned effective_isa() {
  static const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  return isa;
}
bool isa_has(unsigned bits) { return (effective_isa() & bits) == bits; }
#endif

}  // namespace

bool onednn_built() {
#if LRNN_WITH_ONEDNN
  return true;
#else
  return false;
#endif
}

const char* onednn_isa_name() {
#if LRNN_WITH_ONEDNN
  // Each level's bits include those of the levels below it.
  if (isa_has(dnnl_cpu_isa_avx512_core_amx)) return "AMX-BF16";
  if (isa_has(dnnl_cpu_isa_avx512_core_bf16)) return "AVX512-BF16";
  if (isa_has(dnnl_cpu_isa_avx512_core)) return "AVX-512";
  if (isa_has(dnnl_cpu_isa_avx2)) return "AVX2";
  return "older";
#else
  return "none";
#endif
}

bool onednn_has_bf16() {
#if LRNN_WITH_ONEDNN
  return isa_has(dnnl_cpu_isa_avx512_core_bf16);
#else
  return false;
#endif
}

bool f32_uses_onednn(Index n, Index cols) {
#if LRNN_WITH_ONEDNN
  const bool faster =
      (n >= kF32MinN && cols >= kF32FullCols) || (n >= kF32MinNNarrow && cols >= kF32MinCols);
  return faster && isa_has(dnnl_cpu_isa_avx512_core) && !env_set("LRNN_F32_EIGEN");
#else
  static_cast<void>(n);
  static_cast<void>(cols);
  return false;
#endif
}

#if LRNN_WITH_ONEDNN
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

// oneDNN's work on one thread, whatever the caller's OpenMP settings: oneDNN would otherwise start
// a team for every small product and conversion (whose idle threads then spin: 40x slower at
// N = 32 on a busy machine). A primitive keeps the thread count it was made with, so making one is
// guarded too.
class OneOpenMpThread {
 public:
  OneOpenMpThread() : threads_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneOpenMpThread() { omp_set_num_threads(threads_); }
  OneOpenMpThread(const OneOpenMpThread&) = delete;
  OneOpenMpThread& operator=(const OneOpenMpThread&) = delete;

 private:
  int threads_;
};

void check(dnnl_status_t status, const char* what) {
  if (status != dnnl_success) {
    throw std::runtime_error(std::string("oneDNN: ") + what + " failed (status " +
                             std::to_string(static_cast<int>(status)) + ")");
  }
}

// One direction's matmul: dst (cols x n, row-major: the n x cols block column-major) = src (cols
// x n: the block X) times weights (n x n: Cᵀ for C X, C for Cᵀ X, in the kernel's own layout).
struct Direction {
  dnnl::matmul matmul;
  dnnl::memory weights;
  dnnl::memory scratchpad;  // the caller-owned scratchpad: none allocated per call
  // C (float32, column-major with leading dimension ld) into weights: made on the first pack()
  // and again only when ld changes (making one costs more than running it).
  dnnl::memory user;
  dnnl::reorder convert;
  Index ld = -1;
};

}  // namespace
#endif

struct OneDnnMatmul::Impl {
  MatmulInput input;
  Index n = -1, cols = -1;
#if LRNN_WITH_ONEDNN
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  Direction direction[2];
  dnnl::memory src;  // the block: src_bits (bf16), or X itself or staged (f32)
  dnnl::memory dst;  // out
  std::vector<std::uint16_t> src_bits;
  MatX<float> staged;  // a float32 block whose leading dimension is not n, copied
  std::string impl;
#endif
  MatX<float> out;
};

OneDnnMatmul::OneDnnMatmul(MatmulInput input) : impl_(std::make_unique<Impl>()) {
  impl_->input = input;
#if !LRNN_WITH_ONEDNN
  throw std::logic_error("OneDnnMatmul: lrnn was built without oneDNN");
#endif
}

OneDnnMatmul::~OneDnnMatmul() = default;

void OneDnnMatmul::reserve(Index n, Index cols) {
  Impl& m = *impl_;
  if (n == m.n && cols == m.cols) return;
  // The shape is recorded last: if making a primitive throws, the next reserve() starts again.
  m.n = m.cols = -1;
  m.out.resize(n, cols);
#if LRNN_WITH_ONEDNN
  using dnnl::memory;
  const auto type =
      m.input == MatmulInput::kBf16 ? memory::data_type::bf16 : memory::data_type::f32;
  const memory::dims src_dims{cols, n}, w_dims{n, n};
  const memory::desc src_md(src_dims, type, memory::format_tag::ab);
  const memory::desc dst_md(src_dims, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc w_any(w_dims, type, memory::format_tag::any);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (m.input == MatmulInput::kBf16) {
    m.src_bits.assign(static_cast<std::size_t>(n * cols), 0);
    m.src = memory(src_md, m.engine, m.src_bits.data());
  } else {
    m.staged.resize(n, cols);
    m.src = memory(src_md, m.engine, m.staged.data());
  }
  m.dst = memory(dst_md, m.engine, m.out.data());
  // oneDNN fixes a primitive's thread count when it makes it: one, as it runs.
  const OneOpenMpThread one;
  for (Direction& p : m.direction) {
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, w_any, dst_md), attr,
                                          m.engine);
    p.matmul = dnnl::matmul(pd);
    p.weights = memory(pd.weights_desc(), m.engine);
    p.scratchpad = memory(pd.scratchpad_desc(), m.engine);
    p.ld = -1;  // new weights: the conversion is made again
    m.impl = pd.impl_info_str();
  }
#endif
  m.n = n;
  m.cols = cols;
}

void OneDnnMatmul::pack(const float* C, Index ldc, bool transposed) {
#if LRNN_WITH_ONEDNN
  using dnnl::memory;
  Impl& m = *impl_;
  // weights[k][i] multiplies src[b][k] into dst[b][i]: C[i, k] for C X, C[k, i] for Cᵀ X.
  Direction& p = m.direction[transposed ? 1 : 0];
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
#else
  static_cast<void>(C);
  static_cast<void>(ldc);
  static_cast<void>(transposed);
#endif
}

const float* OneDnnMatmul::multiply(bool transposed, const float* X, Index ldx) {
  Impl& m = *impl_;
#if LRNN_WITH_ONEDNN
  if (m.input == MatmulInput::kBf16) {
    for (Index b = 0; b < m.cols; ++b) {
      to_bf16_block(X + b * ldx, m.n, m.src_bits.data() + b * m.n);
    }
  } else {
    const float* block = X;
    if (ldx != m.n) {
      m.staged = Eigen::Map<const MatX<float>, 0, Eigen::OuterStride<>>(X, m.n, m.cols,
                                                                        Eigen::OuterStride<>(ldx));
      block = m.staged.data();
    }
    // oneDNN reads src only; its C API takes the handle as void*.
    check(dnnl_memory_set_data_handle_v2(m.src.get(), const_cast<float*>(block), m.stream.get()),
          "setting the block");
  }
  Direction& p = m.direction[transposed ? 1 : 0];
  const OneOpenMpThread one;
  // The C API with a fixed array of arguments: the C++ execute() builds a map of them per call.
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, m.src.get()},
                                  {DNNL_ARG_WEIGHTS, p.weights.get()},
                                  {DNNL_ARG_DST, m.dst.get()},
                                  {DNNL_ARG_SCRATCHPAD, p.scratchpad.get()}};
  check(dnnl_primitive_execute(p.matmul.get(), m.stream.get(), 4, args), "the bulk product");
  check(dnnl_stream_wait(m.stream.get()), "waiting for the bulk product");
#else
  static_cast<void>(transposed);
  static_cast<void>(X);
  static_cast<void>(ldx);
#endif
  return m.out.data();
}

std::string OneDnnMatmul::implementation() const {
#if LRNN_WITH_ONEDNN
  return impl_->impl;
#else
  return "none";
#endif
}

}  // namespace lrnn::detail

namespace lrnn {

std::string float32_backend(int N, int trials) {
  if (detail::f32_uses_onednn(N, trials)) {
    detail::OneDnnMatmul probe(detail::MatmulInput::kF32);
    probe.reserve(N, trials);
    return "oneDNN " + probe.implementation() + " (" + detail::onednn_isa_name() + ")";
  }
  std::string why = "this CPU has no AVX-512";
  if (!detail::onednn_built()) {
    why = "built without oneDNN";
  } else if (detail::env_set("LRNN_F32_EIGEN")) {
    why = "LRNN_F32_EIGEN is set";
  } else if (N < detail::kF32MinN || trials < detail::kF32MinCols ||
             (trials < detail::kF32FullCols && N < detail::kF32MinNNarrow)) {
    why = "the faster one for this N and block";
  }
  return "lrnn's packed Eigen kernel (" + why + ")";
}

}  // namespace lrnn
