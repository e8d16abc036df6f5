// The bulk term g C Phi (and g Cᵀ A backward): the only O(N²) work of a time step.
//
// A GEMM first packs its operands into the panel layout its micro-kernel reads. Eigen's
// `dst.noalias() += C * Phi` packs all of C on every call (and allocates the packing buffers once
// they exceed EIGEN_STACK_ALLOCATION_LIMIT): for N = 500 and a block of 16 trials that is a 1 MB
// copy for 8 MFLOP of work, at every one of the 2000 products of a training step. C is fixed, so
// BulkProduct packs it once per solve (pack()) and then only the N x cols right-hand side is
// packed per product. Three kernels:
//   - float32, where oneDNN is the faster kernel (f32_uses_onednn: AVX-512, N >= 100 with blocks
//     of 16 trials, N >= 200 with 5 or more): oneDNN's matmul with C reordered into its layout
//     (OneDnnMatmul);
//   - float64, and float32 elsewhere: Eigen's own blocking loop and micro-kernel (gebp) with the
//     packed panels (gemm_pack_lhs, gemm_pack_rhs, gebp_kernel, gemm_blocking_space; stable across
//     Eigen 3.3-3.4), in the order of Eigen's sequential general_matrix_matrix_product, so the
//     sums are the same. It allocates nothing in the time loops;
//   - BulkMode::kBf16 (float only): bfloat16 inputs (Bf16Gemm): C is converted once per pack(),
//     each product converts its block.
// oneDNN's products return C X, and dst += alpha * (C X) is added here.
#pragma once

#include <Eigen/Core>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "integrate/bf16_gemm.hpp"
#include "integrate/onednn_matmul.hpp"
#include "lrnn/core/types.hpp"
#include "lrnn/integrate/bulk_mode.hpp"

namespace lrnn::detail {

/// Opt-in timing of the bulk products, for lrnn-bench: while `enabled`, every product adds its
/// wall time (the conversion of its block to bfloat16 and the accumulation into dst included) to
/// `nanoseconds`, summed over the threads that run them. Off, a product costs one relaxed load.
struct BulkProfile {
  std::atomic<bool> enabled{false};
  std::atomic<std::int64_t> nanoseconds{0};
  std::atomic<std::int64_t> products{0};

  void reset() {
    nanoseconds.store(0, std::memory_order_relaxed);
    products.store(0, std::memory_order_relaxed);
  }

  /// Whether this thread is inside a timed product: one flag for every BulkProduct type and
  /// instantiation, so that the bf16 fallback's float32 product within one is not counted again.
  static inline thread_local bool timing = false;
};
inline BulkProfile bulk_profile;

template <typename Scalar>
class BulkProduct {
 public:
  /// Which products the next solve needs: C X (forward), Cᵀ X (backward), or both.
  enum Orientation : unsigned { kForward = 1, kTransposed = 2 };

  /// How the next pack() and products compute: kBf16 for float only (a double product ignores
  /// it). Takes effect at the next pack().
  void set_mode(BulkMode mode) {
    bf16_mode_ = std::is_same_v<Scalar, float> && mode == BulkMode::kBf16;
    configure();
  }

  /// Sizes the workspace for (n x n) times (n x cols) products. Allocates only on a new shape.
  void reserve(Index n, Index cols) {
    if (n == n_ && cols == cols_) return;
    n_ = n;
    cols_ = cols;
    Blocking blocking(n, cols, n, 1, true);
    kc_ = blocking.kc();
    mc_ = std::min(n, blocking.mc());
    nc_ = std::min(cols, blocking.nc());
    configure();
  }

  /// Whether the float32 products run on oneDNN's matmul (after reserve()).
  bool uses_onednn_f32() const { return external_ != nullptr && external_ == onednn_f32_.get(); }

  /// Keeps this product on the Eigen kernel whatever f32_uses_onednn says: for the bf16
  /// fallback's inner product, which stays lrnn's own (its bits and "allocates nothing").
  void keep_eigen_kernel() {
    eigen_only_ = true;
    configure();
  }

  /// Packs C for the products of `orientations` (a mask of Orientation). C must stay unchanged
  /// (same address and values) until the next pack(); add() checks the address.
  template <typename MatC>
  void pack(const MatC& C, unsigned orientations) {
    eigen_assert(C.rows() == n_ && C.cols() == n_);
    if constexpr (std::is_same_v<Scalar, float>) {
      if (external_ != nullptr) {
        for (int which = 0; which < 2; ++which) {
          if ((orientations & (which == 0 ? kForward : kTransposed)) == 0) continue;
          external_->pack(C.data(), C.outerStride(), which == 1);
          source_[which] = C.data();
        }
        return;
      }
    }
    if ((orientations & kForward) != 0) pack_lhs<Eigen::ColMajor>(C, 0);
    if ((orientations & kTransposed) != 0) pack_lhs<Eigen::RowMajor>(C, 1);
  }

  /// dst += alpha * C * X   (X and dst: n x cols column-major), with C as packed.
  template <typename MatC, typename MatX, typename MatD>
  void add(Scalar alpha, const MatC& C, const MatX& X, MatD& dst) {
    run(0, alpha, C, X, dst);
  }

  /// dst += alpha * Cᵀ * X, with Cᵀ as packed (read from C in place: a row-major view).
  template <typename MatC, typename MatX, typename MatD>
  void add_transposed(Scalar alpha, const MatC& C, const MatX& X, MatD& dst) {
    run(1, alpha, C, X, dst);
  }

 private:
  using Blocking =
      Eigen::internal::gemm_blocking_space<Eigen::ColMajor, Scalar, Scalar, Eigen::Dynamic,
                                           Eigen::Dynamic, Eigen::Dynamic, 1, false>;
  using Traits = Eigen::internal::gebp_traits<Scalar, Scalar>;
  template <int Order>
  using LhsMapper = Eigen::internal::const_blas_data_mapper<Scalar, Index, Order>;
  using RhsMapper = Eigen::internal::const_blas_data_mapper<Scalar, Index, Eigen::ColMajor>;
  using ResMapper =
      Eigen::internal::blas_data_mapper<Scalar, Index, Eigen::ColMajor, Eigen::Unaligned, 1>;

  /// Calls visit(o, mo, i, mi) for each block [o, o + mo) x [i, i + mi) of [0, rows) x [0, cols)
  /// cut into panels of at most bo rows and bi columns, row panels first: the order in which the
  /// packed buffers are laid out.
  template <typename Visit>
  static void for_each_block(Index rows, Index bo, Index cols, Index bi, Visit&& visit) {
    for (Index o = 0; o < rows; o += bo) {
      const Index mo = std::min(o + bo, rows) - o;
      for (Index i = 0; i < cols; i += bi) visit(o, mo, i, std::min(i + bi, cols) - i);
    }
  }

  /// Packs the (mc x kc) blocks of C (Order = ColMajor) or of Cᵀ (RowMajor view of C) in the
  /// order run() visits them: row panels i2, then depth panels k2.
  template <int Order, typename MatC>
  void pack_lhs(const MatC& C, int which) {
    Eigen::internal::gemm_pack_lhs<Scalar, Index, LhsMapper<Order>, Traits::mr, Traits::LhsProgress,
                                   typename Traits::LhsPacket4Packing, Order>
        pack;
    const LhsMapper<Order> lhs(C.data(), C.outerStride());
    Scalar* out = packed_[which].data();
    for_each_block(n_, mc_, n_, kc_, [&](Index i2, Index mc, Index k2, Index kc) {
      pack(out, lhs.getSubMapper(i2, k2), kc, mc);
      out += mc * kc;
    });
    source_[which] = C.data();
  }

  template <typename MatC, typename MatX, typename MatD>
  void run(int which, Scalar alpha, const MatC& C, const MatX& X, MatD& dst) {
    // A product inside a timed one (the bf16 fallback's float32 kernel) is not counted twice.
    if (BulkProfile::timing || !bulk_profile.enabled.load(std::memory_order_relaxed)) {
      multiply(which, alpha, C, X, dst);
      return;
    }
    BulkProfile::timing = true;
    const auto start = std::chrono::steady_clock::now();
    multiply(which, alpha, C, X, dst);
    BulkProfile::timing = false;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    bulk_profile.nanoseconds.fetch_add(ns, std::memory_order_relaxed);
    bulk_profile.products.fetch_add(1, std::memory_order_relaxed);
  }

  template <typename MatC, typename MatX, typename MatD>
  void multiply(int which, Scalar alpha, const MatC& C, const MatX& X, MatD& dst) {
    eigen_assert(source_[which] == C.data() && "BulkProduct: C was not packed for this product");
    eigen_assert(X.rows() == n_ && X.cols() == cols_ && dst.rows() == n_ && dst.cols() == cols_);
    static_cast<void>(C);
    if constexpr (std::is_same_v<Scalar, float>) {
      if (external_ != nullptr) {
        const float* product = external_->multiply(which == 1, X.data(), X.outerStride());
        dst += alpha * Eigen::Map<const Eigen::MatrixXf>(product, n_, cols_);
        return;
      }
    }
    Eigen::internal::gemm_pack_rhs<Scalar, Index, RhsMapper, Traits::nr, Eigen::ColMajor> pack_rhs;
    Eigen::internal::gebp_kernel<Scalar, Scalar, Index, ResMapper, Traits::mr, Traits::nr, false,
                                 false>
        gebp;
    const RhsMapper rhs(X.data(), X.outerStride());
    const ResMapper res(dst.data(), dst.outerStride());
    // The right-hand side, packed once for all row panels: (kc x nc) blocks in (k2, j2) order.
    Scalar* b = blockB_.data();
    for_each_block(n_, kc_, cols_, nc_, [&](Index k2, Index kc, Index j2, Index nc) {
      pack_rhs(b, rhs.getSubMapper(k2, j2), kc, nc);
      b += kc * nc;
    });
    const Scalar* a = packed_[which].data();
    for (Index i2 = 0; i2 < n_; i2 += mc_) {
      const Index mc = std::min(i2 + mc_, n_) - i2;
      const Scalar* bk = blockB_.data();
      for (Index k2 = 0; k2 < n_; k2 += kc_) {
        const Index kc = std::min(k2 + kc_, n_) - k2;
        for (Index j2 = 0; j2 < cols_; j2 += nc_) {
          const Index nc = std::min(j2 + nc_, cols_) - j2;
          gebp(res.getSubMapper(i2, j2), a, bk, mc, kc, nc, alpha);
          bk += kc * nc;
        }
        a += mc * kc;
      }
    }
  }

  /// Chooses the kernel for the mode and shape, and sizes its workspace: after a new shape and at
  /// every set_mode(), i.e. at the start of every solve, so LRNN_F32_EIGEN is read there.
  void configure() {
    source_[0] = source_[1] = nullptr;
    external_ = nullptr;
    if (n_ < 0) return;
    if constexpr (std::is_same_v<Scalar, float>) {
      if (bf16_mode_) {
        if (!bf16_) bf16_ = std::make_unique<Bf16Gemm>();
        external_ = bf16_.get();
      } else if (!eigen_only_ && f32_uses_onednn(n_, cols_)) {
        if (!onednn_f32_) onednn_f32_ = std::make_unique<OneDnnMatmul>(MatmulInput::kF32);
        external_ = onednn_f32_.get();
      }
    }
    if (external_ != nullptr) {
      external_->reserve(n_, cols_);
      return;
    }
    // Eigen's resize() keeps a buffer whose size is unchanged.
    packed_[0].resize(n_ * n_);
    packed_[1].resize(n_ * n_);
    blockB_.resize(n_ * cols_);
  }

  Index n_ = -1;
  Index cols_ = -1;
  Index kc_ = 0, mc_ = 0, nc_ = 0;
  VecX<Scalar> packed_[2];                        ///< C's panels for C X, and Cᵀ's for Cᵀ X
  VecX<Scalar> blockB_;                           ///< X's panels
  const Scalar* source_[2] = {nullptr, nullptr};  ///< the C each was packed from
  bool bf16_mode_ = false;                        ///< set_mode(kBf16), float only
  bool eigen_only_ = false;                       ///< keep_eigen_kernel()
  std::unique_ptr<Bf16Gemm> bf16_;  ///< the bfloat16 products, made at the first bf16 solve
  std::unique_ptr<OneDnnMatmul> onednn_f32_;  ///< oneDNN's float32 products, made when chosen
  BlockProduct* external_ = nullptr;  ///< whichever of the two runs the products; null: Eigen's
};

}  // namespace lrnn::detail
