// The float32 bulk product on its two kernels: oneDNN's matmul where lrnn chooses it
// (f32_uses_onednn: AVX-512, n >= 100 with 16 trials, n >= 200 with 5) and lrnn's packed Eigen
// kernel (forced with LRNN_F32_EIGEN=1), against the product in double; the choice itself; and the
// properties the solvers' determinism rests on.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <thread>

#include "integrate/bulk_product.hpp"
#include "integrate/onednn_matmul.hpp"
#include "support/scoped_env.hpp"

namespace lrnn {
namespace {

using detail::BulkProduct;
using detail::f32_uses_onednn;
using test::ScopedEnv;

constexpr unsigned kBoth = BulkProduct<float>::kForward | BulkProduct<float>::kTransposed;

struct Case {
  MatX<float> C, X, dst0;
};

Case make_case(Index n, Index cols) {
  Case c;
  c.C = MatX<float>::Random(n, n) / std::sqrt(static_cast<float>(n));
  c.X = MatX<float>::Random(n, cols);
  c.dst0 = MatX<float>::Random(n, cols);
  return c;
}

double max_rel(const MatX<double>& a, const MatX<double>& b) {
  return (a - b).cwiseAbs().maxCoeff() / b.cwiseAbs().maxCoeff();
}

// Whether this machine runs float32 products of the solvers' shape on oneDNN.
bool onednn_here() { return f32_uses_onednn(500, 16); }

// dst0 + alpha C X and dst0 + alpha Cᵀ X from a BulkProduct of the current choice, X read as
// `block` (a view: strided or not), against double. float32 sums of n terms: ~n 2^-24 relative
// to the sum of magnitudes, well under 1e-5 for n <= 1000.
void expect_products_close(const Case& c, bool expect_onednn, const std::string& what) {
  const Index n = c.C.rows(), cols = c.X.cols();
  BulkProduct<float> bulk;
  bulk.reserve(n, cols);
  bulk.set_mode(BulkMode::kNative);
  EXPECT_EQ(bulk.uses_onednn_f32(), expect_onednn) << what;
  bulk.pack(c.C, kBoth);
  const float alpha = 0.75f;
  MatX<float> fwd = c.dst0, tr = c.dst0;
  bulk.add(alpha, c.C, c.X, fwd);
  bulk.add_transposed(alpha, c.C, c.X, tr);
  const MatX<double> C = c.C.cast<double>(), X = c.X.cast<double>(), d0 = c.dst0.cast<double>();
  const MatX<double> exact_fwd = d0 + 0.75 * C * X, exact_tr = d0 + 0.75 * C.transpose() * X;
  const double e_fwd = max_rel(fwd.cast<double>(), exact_fwd);
  const double e_tr = max_rel(tr.cast<double>(), exact_tr);
  std::printf("%s, n = %ld, cols = %ld: rel err %.1e, %.1e\n", what.c_str(), static_cast<long>(n),
              static_cast<long>(cols), e_fwd, e_tr);
  EXPECT_LE(e_fwd, 1e-5) << what;
  EXPECT_LE(e_tr, 1e-5) << what;
  // Not the double product by accident: float32 rounding is there.
  EXPECT_GT(e_fwd, 0.0) << what;
}

TEST(BulkProductF32, ChoosesOneDnnOnlyWhereItIsFaster) {
  const ScopedEnv unset("LRNN_F32_EIGEN", nullptr);  // a user's setting would force Eigen
  const std::string isa = detail::onednn_isa_name();
  const bool avx512 = isa == "AVX-512" || isa == "AVX512-BF16" || isa == "AMX-BF16";
  std::printf("oneDNN ISA here: %s\n", isa.c_str());
  const bool here = avx512 && detail::onednn_built();
  EXPECT_EQ(f32_uses_onednn(500, 16), here);
  EXPECT_EQ(f32_uses_onednn(100, 16), here);
  EXPECT_EQ(f32_uses_onednn(200, 5), here);
  EXPECT_EQ(f32_uses_onednn(1000, 32), here);
  // Small networks and narrow blocks: Eigen's kernel is faster there, or as fast.
  EXPECT_FALSE(f32_uses_onednn(99, 16));
  EXPECT_FALSE(f32_uses_onednn(199, 15));
  EXPECT_FALSE(f32_uses_onednn(100, 5));
  EXPECT_FALSE(f32_uses_onednn(500, 4));
  EXPECT_FALSE(f32_uses_onednn(500, 1));
  {
    const ScopedEnv eigen("LRNN_F32_EIGEN", "1");
    EXPECT_FALSE(f32_uses_onednn(500, 16));
  }
  {
    const ScopedEnv zero("LRNN_F32_EIGEN", "0");  // "0" does not force it
    EXPECT_EQ(f32_uses_onednn(500, 16), avx512 && detail::onednn_built());
  }
}

TEST(BulkProductF32, BothKernelsAgreeWithDouble) {
  const ScopedEnv unset("LRNN_F32_EIGEN", nullptr);
  for (const auto& [n, cols] :
       {std::pair<Index, Index>{500, 16}, {213, 5}, {137, 16}, {1000, 32}}) {
    const Case c = make_case(n, cols);
    expect_products_close(c, f32_uses_onednn(n, cols), "chosen kernel");
    const ScopedEnv eigen("LRNN_F32_EIGEN", "1");
    expect_products_close(c, false, "Eigen kernel");
  }
  // Below the crossover, Eigen's kernel whatever the machine.
  expect_products_close(make_case(64, 16), false, "small network");
}

TEST(BulkProductF32, ReadsStridedBlocks) {
  // A block whose leading dimension is not n (rows of a taller matrix) is staged; a block of
  // columns of a wider one is read in place. Both give the product of the block alone.
  const Index n = 200, cols = 16;
  const Case c = make_case(n, cols);
  MatX<float> tall = MatX<float>::Random(n + 7, cols);
  tall.topRows(n) = c.X;
  MatX<float> wide = MatX<float>::Random(n, 3 * cols);
  wide.middleCols(cols, cols) = c.X;
  BulkProduct<float> bulk;
  bulk.reserve(n, cols);
  bulk.pack(c.C, kBoth);
  MatX<float> expected = c.dst0, from_tall = c.dst0, from_wide = c.dst0;
  bulk.add(0.5f, c.C, c.X, expected);
  bulk.add(0.5f, c.C, tall.topRows(n), from_tall);
  bulk.add(0.5f, c.C, wide.middleCols(cols, cols), from_wide);
  EXPECT_TRUE(from_tall == expected);
  EXPECT_TRUE(from_wide == expected);
  // And into a destination that is itself a view.
  MatX<float> wide_dst = MatX<float>::Zero(n, 2 * cols);
  wide_dst.rightCols(cols) = c.dst0;
  auto dst_view = wide_dst.rightCols(cols);
  bulk.add(0.5f, c.C, c.X, dst_view);
  EXPECT_TRUE(wide_dst.rightCols(cols) == expected);
  EXPECT_TRUE(wide_dst.leftCols(cols).isZero());
}

TEST(BulkProductF32, RepackingFollowsANewC) {
  const Index n = 300, cols = 16;
  Case c = make_case(n, cols);
  BulkProduct<float> bulk;
  bulk.reserve(n, cols);
  bulk.pack(c.C, kBoth);
  MatX<float> before = MatX<float>::Zero(n, cols);
  bulk.add(1.0f, c.C, c.X, before);
  c.C *= 2.0f;  // exact in float32
  bulk.pack(c.C, kBoth);
  MatX<float> after = MatX<float>::Zero(n, cols);
  bulk.add(1.0f, c.C, c.X, after);
  EXPECT_TRUE(after == 2.0f * before) << "the product did not follow the repacked C";
}

// dst0 + 0.3 (C X + Cᵀ X) from `bulk` after a pack of C.
MatX<float> both_products(BulkProduct<float>& bulk, const Case& c) {
  bulk.pack(c.C, kBoth);
  MatX<float> out = c.dst0;
  bulk.add(0.3f, c.C, c.X, out);
  bulk.add_transposed(0.3f, c.C, c.X, out);
  return out;
}

MatX<float> fresh_products(const Case& c) {
  BulkProduct<float> bulk;
  bulk.reserve(c.C.rows(), c.X.cols());
  return both_products(bulk, c);
}

TEST(BulkProductF32, AnObjectThatChangedShapeOrKernelGivesAFreshOnesBits) {
  // The solvers keep their BulkProduct across solves of other shapes (a batch's partial last
  // block) and choose the kernel again at every solve (LRNN_F32_EIGEN read there): the bits of
  // a block's product must not depend on what the object did before.
  const ScopedEnv unset("LRNN_F32_EIGEN", nullptr);
  const Case c = make_case(500, 16);
  const Case other = make_case(200, 5);
  const MatX<float> fresh_chosen = fresh_products(c);
  MatX<float> fresh_eigen;
  {
    const ScopedEnv eigen("LRNN_F32_EIGEN", "1");
    fresh_eigen = fresh_products(c);
  }
  BulkProduct<float> bulk;
  bulk.reserve(500, 16);
  both_products(bulk, c);
  bulk.reserve(200, 5);  // another shape, and back
  both_products(bulk, other);
  bulk.reserve(500, 16);
  EXPECT_TRUE(both_products(bulk, c) == fresh_chosen) << "after another shape";
  {
    const ScopedEnv eigen("LRNN_F32_EIGEN", "1");
    bulk.set_mode(BulkMode::kNative);  // a new solve: the kernel is chosen again
    EXPECT_FALSE(bulk.uses_onednn_f32());
    EXPECT_TRUE(both_products(bulk, c) == fresh_eigen) << "switched to the Eigen kernel";
  }
  bulk.set_mode(BulkMode::kNative);
  EXPECT_EQ(bulk.uses_onednn_f32(), onednn_here());
  EXPECT_TRUE(both_products(bulk, c) == fresh_chosen) << "switched back";
  bulk.set_mode(BulkMode::kBf16);  // and through a bf16 solve
  both_products(bulk, c);
  bulk.set_mode(BulkMode::kNative);
  EXPECT_TRUE(both_products(bulk, c) == fresh_chosen) << "after a bf16 solve";
  // The kernels differ in their order of summation, so on a machine that has both the two
  // results differ: a sign that each path ran what it says.
  if (onednn_here()) {
    EXPECT_FALSE(fresh_chosen == fresh_eigen);
  }
}

TEST(BulkProductF32, SameBitsOnEveryThread) {
  // Each product runs on one thread whatever the caller's OpenMP settings, so a block's bits do
  // not depend on the thread that computes it or on how many threads that one would start.
  const Case c = make_case(500, 16);
  const MatX<float> here = fresh_products(c);
  MatX<float> on_thread;
  std::thread t([&] {
    omp_set_num_threads(2);
    on_thread = fresh_products(c);
  });
  t.join();
  EXPECT_TRUE(on_thread == here);
}

TEST(BulkProductF32, TheBf16FallbackKeepsLrnnsOwnKernel) {
  // The fallback rounds its inputs and multiplies them with lrnn's Eigen kernel, never with
  // oneDNN's float32 one: its bits do not depend on whether the CPU has AVX-512.
  const ScopedEnv unset("LRNN_F32_EIGEN", nullptr);
  const ScopedEnv fallback("LRNN_BF16_FALLBACK", "1");
  const Case c = make_case(500, 16);
  BulkProduct<float> bulk;
  bulk.reserve(500, 16);
  bulk.set_mode(BulkMode::kBf16);
  const MatX<float> chosen = both_products(bulk, c);
  const ScopedEnv eigen("LRNN_F32_EIGEN", "1");
  BulkProduct<float> forced;
  forced.reserve(500, 16);
  forced.set_mode(BulkMode::kBf16);
  EXPECT_TRUE(both_products(forced, c) == chosen);
}

}  // namespace
}  // namespace lrnn
