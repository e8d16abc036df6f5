// The time loops allocate nothing: the number of heap allocations of a forward + backward pass
// does not grow with the number of steps K. malloc is interposed for this test binary only.
// The exception is oneDNN's matmul (float32 products where lrnn chooses it, and bf16), which
// allocates inside each execute(): bounded per product below. The float32 cases force lrnn's
// Eigen kernel (LRNN_F32_EIGEN=1) to check everything else allocates nothing per step.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "integrate/onednn_matmul.hpp"
#include "lrnn/analysis/fixed_points.hpp"
#include "lrnn/config/config.hpp"
#include "lrnn/integrate/bulk_mode.hpp"
#include "lrnn/integrate/euler_bptt.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/context_switch.hpp"
#include "support/malloc_counter.hpp"
#include "support/scoped_env.hpp"

using lrnn::test::g_counting;
using lrnn::test::g_mallocs;
using lrnn::test::ScopedEnv;

namespace lrnn {
namespace {

template <typename Scalar>
long allocations_of_one_pass(double T_stim, Index N, Index trials,
                             BulkMode mode = BulkMode::kNative, double noise_std = 0.0) {
  RnnOptions o;
  o.N = static_cast<int>(N);
  o.noise_std = noise_std;
  const auto net = init_network<Scalar>(o, 1);
  TaskOptions t;
  t.T_stim = T_stim;
  ContextSwitchTask task(t, 0.1, 2, 100, 1, 1);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(trials));
  std::iota(idx.begin(), idx.end(), 0);
  TrialBatch<Scalar> batch;
  task.fill(Split::kTrain, idx.data(), trials, batch);
  EulerBptt<Scalar> euler(task.grid());
  euler.set_bulk_mode(mode);
  VecX<Scalar> y(trials), dL = VecX<Scalar>::Ones(trials);
  Params<Scalar> grad(net.dims());
  euler.forward(net, batch, y);  // sizes the buffers
  euler.backward(net, batch, dL, grad);
  g_mallocs = 0;
  g_counting = true;
  euler.forward(net, batch, y);
  euler.backward(net, batch, dL, grad);
  g_counting = false;
  return g_mallocs.load();
}

TEST(NoAlloc, CounterSeesAllocations) {
  LRNN_SKIP_WITHOUT_MALLOC_COUNTER();
  // Positive control: if malloc were not interposed, the test below would pass vacuously.
  g_mallocs = 0;
  g_counting = true;
  VecX<double> v(1000);
  v.setZero();
  g_counting = false;
  EXPECT_GE(g_mallocs.load(), 1);
  EXPECT_EQ(v.sum(), 0.0);
}

// oneDNN 2.6 allocates inside each execute(): its map of arguments, even through the C API with a
// fixed array of them and a caller-owned scratchpad. 6 small allocations per product measured
// (~0.3 us against the product's 30-40 us); bounded so that more cannot creep in unnoticed.
constexpr double kOneDnnAllocationsPerProduct = 8.0;

// Allocations per bulk product of passes of 300 and 1200 steps (one product forward and one
// backward per step).
template <typename Scalar>
double allocations_per_product(Index N, Index trials, BulkMode mode, double noise_std = 0.0) {
  const long short_run = allocations_of_one_pass<Scalar>(15.0, N, trials, mode, noise_std);
  const long long_run = allocations_of_one_pass<Scalar>(105.0, N, trials, mode, noise_std);
  return static_cast<double>(long_run - short_run) / (2.0 * (1200 - 300));
}

TEST(NoAlloc, AllocationsDoNotGrowWithSteps) {
  LRNN_SKIP_WITHOUT_MALLOC_COUNTER();
  {
    // The default shape (N = 500, 32 trials) and a short and a long trial: 300 vs 1200 steps.
    const ScopedEnv eigen("LRNN_F32_EIGEN", "1");
    const long short_run = allocations_of_one_pass<float>(15.0, 500, 32);
    const long long_run = allocations_of_one_pass<float>(105.0, 500, 32);
    EXPECT_EQ(short_run, long_run) << "allocations scale with the number of time steps";
    EXPECT_LE(long_run, 4) << "a pass should allocate next to nothing";
  }
  EXPECT_EQ(allocations_of_one_pass<double>(15.0, 200, 8),
            allocations_of_one_pass<double>(105.0, 200, 8));
  // Below oneDNN's crossover (N < 100) float32 runs on the Eigen kernel without being forced.
  EXPECT_EQ(allocations_of_one_pass<float>(15.0, 64, 16),
            allocations_of_one_pass<float>(105.0, 64, 16));
}

TEST(NoAlloc, OneDnnFloat32AllocationsAreBounded) {
  LRNN_SKIP_WITHOUT_MALLOC_COUNTER();
  if (!detail::f32_uses_onednn(500, 32)) GTEST_SKIP() << "float32 runs on lrnn's Eigen kernel here";
  const double per_product = allocations_per_product<float>(500, 32, BulkMode::kNative);
  std::printf("float32 on oneDNN (%s): %.1f allocations per product\n", detail::onednn_isa_name(),
              per_product);
  EXPECT_LE(per_product, kOneDnnAllocationsPerProduct);
}

TEST(NoAlloc, RecurrentNoiseAllocatesNothingPerStep) {
  LRNN_SKIP_WITHOUT_MALLOC_COUNTER();
  // Euler-Maruyama draws N x B normals every step into buffers sized once.
  const ScopedEnv eigen("LRNN_F32_EIGEN", "1");
  const long short_run = allocations_of_one_pass<float>(15.0, 500, 32, BulkMode::kNative, 0.1);
  EXPECT_EQ(short_run, allocations_of_one_pass<float>(105.0, 500, 32, BulkMode::kNative, 0.1));
  EXPECT_LE(short_run, 4);
  EXPECT_EQ(allocations_of_one_pass<double>(15.0, 101, 5, BulkMode::kNative, 0.1),
            allocations_of_one_pass<double>(105.0, 101, 5, BulkMode::kNative, 0.1));
}

// The same with bfloat16 bulk products. lrnn's fallback (always on the Eigen kernel) allocates
// nothing per step; oneDNN's bf16 products are bounded as its float32 ones are.
TEST(NoAlloc, Bf16AllocationsDoNotGrowWithSteps) {
  LRNN_SKIP_WITHOUT_MALLOC_COUNTER();
  {
    // The fallback keeps lrnn's Eigen kernel for its float32 product, oneDNN or not.
    const ScopedEnv fallback("LRNN_BF16_FALLBACK", "1");
    const long short_run = allocations_of_one_pass<float>(15.0, 500, 16, BulkMode::kBf16);
    const long long_run = allocations_of_one_pass<float>(105.0, 500, 16, BulkMode::kBf16);
    EXPECT_EQ(short_run, long_run) << "the fallback's allocations scale with the time steps";
  }
  const double per_product = allocations_per_product<float>(500, 16, BulkMode::kBf16);
  std::printf("bf16 (%s): %.1f allocations per product\n", bf16_backend().c_str(), per_product);
  EXPECT_LE(per_product, kOneDnnAllocationsPerProduct);
}

// The fixed-point finder's relaxation loops (flow and Adam on q) allocate nothing per step:
// runs that differ only in their number of steps make the same number of allocations.
long allocations_of_relaxation(double relax_time, int descent_iters) {
  RnnOptions o;
  o.N = 200;
  const Network<double> net = init_network<double>(o, 3);
  FixedPointOptions f;
  f.relax_time = relax_time;
  f.descent_iters = descent_iters;
  MatX<double> X = MatX<double>::Ones(200, 32);
  const VecX<double> u = VecX<double>::Constant(4, 0.1);
  g_mallocs = 0;
  g_counting = true;
  relax_starts(net, u, f, X);
  g_counting = false;
  return g_mallocs.load();
}

TEST(NoAlloc, FixedPointRelaxationStepsAllocateNothing) {
  LRNN_SKIP_WITHOUT_MALLOC_COUNTER();
  EXPECT_EQ(allocations_of_relaxation(5.0, 20), allocations_of_relaxation(25.0, 120));
}

}  // namespace
}  // namespace lrnn
