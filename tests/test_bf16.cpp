// training.precision: bf16: rounding to bfloat16, the bulk product with bfloat16 inputs on both
// backends (oneDNN where the CPU has bfloat16 instructions, lrnn's fallback forced with
// LRNN_BF16_FALLBACK) against the exact product of the rounded inputs, and the bf16 gradient of
// the default network against float64's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "integrate/bf16_gemm.hpp"
#include "integrate/bulk_product.hpp"
#include "lrnn/config/config.hpp"
#include "lrnn/integrate/bulk_mode.hpp"
#include "lrnn/integrate/gradient_method.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/loss.hpp"

namespace lrnn {
namespace {

using detail::Bf16Gemm;
using detail::round_to_bf16;
using detail::to_bf16_bits;

// Forces lrnn's fallback for the Bf16Gemm objects made while it lives.
class ForcedFallback {
 public:
  ForcedFallback() { setenv("LRNN_BF16_FALLBACK", "1", 1); }
  ~ForcedFallback() { unsetenv("LRNN_BF16_FALLBACK"); }
  ForcedFallback(const ForcedFallback&) = delete;
  ForcedFallback& operator=(const ForcedFallback&) = delete;
};

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(round_to_bf16(1.0f), 1.0f);
  // bfloat16 has 7 stored significand bits: spacing 2^-7 at 1.
  const float ulp = std::ldexp(1.0f, -7);
  EXPECT_EQ(round_to_bf16(1.0f + ulp), 1.0f + ulp);
  EXPECT_EQ(round_to_bf16(1.0f + 0.5f * ulp), 1.0f) << "a tie goes to the even neighbour";
  EXPECT_EQ(round_to_bf16(1.0f + 1.5f * ulp), 1.0f + 2 * ulp) << "a tie goes to the even neighbour";
  EXPECT_EQ(round_to_bf16(1.0f + 0.5f * ulp + std::ldexp(1.0f, -20)), 1.0f + ulp);
  EXPECT_EQ(round_to_bf16(-3.0f), -3.0f);
  EXPECT_EQ(to_bf16_bits(1.0f), 0x3f80);
  EXPECT_EQ(to_bf16_bits(-2.0f), 0xc000);
  EXPECT_TRUE(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  // Subnormals flush to a zero of their sign, as the AVX512-BF16 instruction does.
  EXPECT_EQ(to_bf16_bits(1e-40f), 0x0000);
  EXPECT_EQ(to_bf16_bits(-1e-40f), 0x8000);
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::min()), std::numeric_limits<float>::min());
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::infinity()),
            std::numeric_limits<float>::infinity());
  // The largest float is nearer to 2^128 than to the largest bfloat16: it rounds to infinity.
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::max()),
            std::numeric_limits<float>::infinity());
  // Relative rounding error at most half a unit in the last place: 2^-8.
  for (float x = 0.1f; x < 100.0f; x *= 1.37f) {
    EXPECT_LE(std::abs(round_to_bf16(x) - x), std::ldexp(x, -8)) << x;
  }
}

struct Product {
  MatX<float> C, X;
  MatX<double> exact_forward, exact_transposed;  // of the rounded inputs, in double
};

Product make_product(Index n, Index cols) {
  Product p;
  p.C = MatX<float>::Random(n, n) / std::sqrt(static_cast<float>(n));
  p.X = MatX<float>::Random(n, cols);
  const auto round = [](float v) { return static_cast<double>(round_to_bf16(v)); };
  const MatX<double> Cr = p.C.unaryExpr(round), Xr = p.X.unaryExpr(round);
  p.exact_forward = Cr * Xr;
  p.exact_transposed = Cr.transpose() * Xr;
  return p;
}

double max_rel(const MatX<double>& a, const MatX<double>& b) {
  return (a - b).cwiseAbs().maxCoeff() / b.cwiseAbs().maxCoeff();
}

// The products of the rounded inputs, accumulated in float32: a sum of n = 500 terms carries a
// rounding error of at most ~n 2^-24 relative to the sum of magnitudes, ~1e-6 in practice.
constexpr double kAccumulationTol = 1e-5;

void expect_exact_products(Bf16Gemm& gemm, const Product& p, const std::string& what) {
  const Index n = p.C.rows(), cols = p.X.cols();
  gemm.reserve(n, cols);
  gemm.pack(p.C.data(), n, false);
  gemm.pack(p.C.data(), n, true);
  const MatX<double> fwd =
      Eigen::Map<const MatX<float>>(gemm.multiply(false, p.X.data(), n), n, cols).cast<double>();
  const MatX<double> tr =
      Eigen::Map<const MatX<float>>(gemm.multiply(true, p.X.data(), n), n, cols).cast<double>();
  std::printf("%s (%s): rel err C X %.2e, C^T X %.2e\n", what.c_str(),
              gemm.implementation().c_str(), max_rel(fwd, p.exact_forward),
              max_rel(tr, p.exact_transposed));
  EXPECT_LE(max_rel(fwd, p.exact_forward), kAccumulationTol) << what;
  EXPECT_LE(max_rel(tr, p.exact_transposed), kAccumulationTol) << what;
  // And not the float32 product of the unrounded inputs: bfloat16 moved it by up to 2^-8.
  const MatX<double> unrounded = (p.C.cast<double>() * p.X.cast<double>());
  EXPECT_GT(max_rel(fwd, unrounded), 1e-4) << what << ": the inputs were not rounded";
  EXPECT_LT(max_rel(fwd, unrounded), 2e-2) << what;
}

TEST(Bf16Gemm, OneDnnMultipliesTheRoundedInputs) {
  if (!detail::bf16_uses_onednn()) GTEST_SKIP() << bf16_backend();
  const Product p = make_product(500, 16);
  Bf16Gemm gemm;
  expect_exact_products(gemm, p, "oneDNN");
}

TEST(Bf16Gemm, FallbackMultipliesTheRoundedInputs) {
  const ForcedFallback fallback;
  const Product p = make_product(500, 16);
  Bf16Gemm gemm;
  EXPECT_EQ(gemm.implementation(), "fallback");
  expect_exact_products(gemm, p, "fallback");
}

TEST(Bf16Gemm, OddShapesAndStridedBlocks) {
  // A block read from the middle of a wider matrix, as Euler reads phi(x_k) from its trajectory.
  const Index n = 37, cols = 5;
  const Product p = make_product(n, cols);
  MatX<float> wide = MatX<float>::Zero(n, 3 * cols);
  wide.middleCols(cols, cols) = p.X;
  for (const bool forced : {false, true}) {
    if (forced) setenv("LRNN_BF16_FALLBACK", "1", 1);
    detail::BulkProduct<float> bulk;
    bulk.reserve(n, cols);
    bulk.set_mode(BulkMode::kBf16);
    bulk.pack(p.C, detail::BulkProduct<float>::kForward | detail::BulkProduct<float>::kTransposed);
    MatX<float> dst = MatX<float>::Ones(n, cols), dst_t = MatX<float>::Ones(n, cols);
    auto block = wide.middleCols(cols, cols);
    bulk.add(0.5f, p.C, block, dst);
    bulk.add_transposed(0.5f, p.C, block, dst_t);
    const MatX<double> ones = MatX<double>::Ones(n, cols);
    EXPECT_LE(max_rel(dst.cast<double>(), ones + 0.5 * p.exact_forward), kAccumulationTol);
    EXPECT_LE(max_rel(dst_t.cast<double>(), ones + 0.5 * p.exact_transposed), kAccumulationTol);
    if (forced) unsetenv("LRNN_BF16_FALLBACK");
  }
}

TEST(BulkProfile, CountsEachProductOnceOnEveryBackend) {
  // lrnn-bench's profile of the bulk products: the fallback runs a float32 BulkProduct inside the
  // bf16 one, which must not be counted (or timed) a second time.
  const Product p = make_product(64, 16);
  for (const bool forced : {false, true}) {
    for (const BulkMode mode : {BulkMode::kNative, BulkMode::kBf16}) {
      if (forced) setenv("LRNN_BF16_FALLBACK", "1", 1);
      detail::BulkProduct<float> bulk;
      bulk.reserve(64, 16);
      bulk.set_mode(mode);
      bulk.pack(p.C, detail::BulkProduct<float>::kForward);
      MatX<float> dst = MatX<float>::Zero(64, 16);
      auto& profile = detail::bulk_profile;
      profile.reset();
      bulk.add(1.0f, p.C, p.X, dst);  // not profiled
      profile.enabled = true;
      // A block view, as the solvers pass: another instantiation than the fallback's own product.
      const auto block = p.X.leftCols(16);
      for (int i = 0; i < 3; ++i) bulk.add(1.0f, p.C, block, dst);
      profile.enabled = false;
      EXPECT_EQ(profile.products.load(), 3) << "fallback forced: " << forced;
      EXPECT_GT(profile.nanoseconds.load(), 0);
      EXPECT_FALSE(detail::BulkProfile::timing);
      if (forced) unsetenv("LRNN_BF16_FALLBACK");
    }
  }
}

// ------------------------------------------------------------------------------------------------
// The gradient of the default network

struct Problem {
  Network<double> net;
  TrialBatch<double> batch;
  TimeGrid grid;
};

// The default network (N = 500, R = 2, g = 0.8, the default initial scales) on 16 trials of the
// default task (T = 100, dt = 0.1).
Problem default_problem() {
  const Config c;
  Problem s{init_network<double>(c.rnn, 7), {}, {}};
  ContextSwitchTask task(c.task, c.integrator.dt, 7, 100, 1, 1);
  std::vector<std::int64_t> idx(16);
  std::iota(idx.begin(), idx.end(), 0);
  task.fill(Split::kTrain, idx.data(), 16, s.batch);
  s.grid = task.grid();
  return s;
}

template <typename Scalar>
Params<double> gradient(const Problem& s, const IntegratorOptions& o, BulkMode mode) {
  const Network<Scalar> net = s.net.template cast<Scalar>();
  TrialBatch<Scalar> batch;
  batch.resize(s.batch.n_trials, s.batch.n_steps, s.batch.d_in);
  batch.u = s.batch.u.template cast<Scalar>();
  batch.target = s.batch.target.template cast<Scalar>();
  batch.context = s.batch.context;
  auto method = make_gradient_method<Scalar>(o, s.grid);
  method->set_bulk_mode(mode);
  const Index B = batch.n_trials;
  VecX<Scalar> y(B), dL(B);
  method->forward(net, batch, y);
  batch_loss<Scalar>(LabelType::kPm1, y, batch.target, static_cast<double>(B), &dL);
  Params<Scalar> g(net.dims());
  g.flat().setZero();
  method->backward(net, batch, dL, g);
  Params<double> out(net.dims());
  out.flat() = g.flat().template cast<double>();
  return out;
}

// bfloat16 keeps 8 significant bits: each input of a bulk product is rounded by up to 2^-8
// relative, and over the 1000 steps of a trial these errors average rather than add (they are not
// correlated from step to step), so the gradient moves by well under a percent (measured 2e-3);
// the bound is 2e-2.
constexpr double kBf16GradTol = 2e-2;

void expect_bf16_gradient_close(const IntegratorOptions& o, const std::string& what) {
  const Problem s = default_problem();
  const Params<double> g64 = gradient<double>(s, o, BulkMode::kNative);
  const Params<double> g16 = gradient<float>(s, o, BulkMode::kBf16);
  const Params<double> g32 = gradient<float>(s, o, BulkMode::kNative);
  for (const Group g : kAllGroups) {
    const auto& layout = g64.layout();
    const auto a = g64.flat().segment(layout.offset(g), layout.size(g));
    const double rel16 =
        (g16.flat().segment(layout.offset(g), layout.size(g)) - a).norm() / a.norm();
    const double rel32 =
        (g32.flat().segment(layout.offset(g), layout.size(g)) - a).norm() / a.norm();
    std::printf("%s %-2s: bf16 vs float64 rel %.2e (float32: %.2e)\n", what.c_str(),
                std::string(group_name(g)).c_str(), rel16, rel32);
    EXPECT_LE(rel16, kBf16GradTol) << what << " " << group_name(g);
    EXPECT_GT(rel16, rel32) << what << " " << group_name(g) << ": was bfloat16 used at all?";
  }
}

TEST(Bf16Gradient, EulerAgreesWithFloat64OnTheDefaultNetwork) {
  expect_bf16_gradient_close(IntegratorOptions{}, "euler/bptt " + bf16_backend());
}

TEST(Bf16Gradient, FallbackAgreesWithFloat64OnTheDefaultNetwork) {
  const ForcedFallback fallback;
  expect_bf16_gradient_close(IntegratorOptions{}, "euler/bptt fallback");
}

TEST(Bf16Gradient, Tsit5AdjointAgreesWithFloat64OnTheDefaultNetwork) {
  IntegratorOptions o;
  o.method = Method::kTsit5;
  o.gradient = GradientKind::kAdjoint;
  o.rtol = 1e-3;  // the smallest bf16 allows (config rule)
  o.atol = 1e-6;
  expect_bf16_gradient_close(o, "tsit5/adjoint " + bf16_backend());
}

TEST(Bf16Gradient, IsDeterministic) {
  const Problem s = default_problem();
  const Params<double> a = gradient<float>(s, IntegratorOptions{}, BulkMode::kBf16);
  const Params<double> b = gradient<float>(s, IntegratorOptions{}, BulkMode::kBf16);
  EXPECT_TRUE((a.flat().array() == b.flat().array()).all());
}

}  // namespace
}  // namespace lrnn
