// The batch gradient over blocks and threads equals one solve of the whole batch, and does not
// depend on the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/integrate/euler_bptt.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/batch_gradient.hpp"
#include "lrnn/train/loss.hpp"
#include "support/batch_setup.hpp"

namespace lrnn {
namespace {

test::BatchSetup make_setup(Index trials) { return test::make_batch_setup(trials, 10); }

TEST(BatchGradient, BlocksSumToTheWholeBatch) {
  // 37 trials: blocks of 16, 16 and 5.
  const test::BatchSetup s = make_setup(37);
  TrialBatch<double> all;
  s.task->fill(Split::kTrain, s.indices.data(), 37, all);
  EulerBptt<double> euler(s.task->grid());
  VecX<double> y(37), dL(37);
  euler.forward(s.net, all, y);
  const double loss = batch_loss<double>(LabelType::kPm1, y, all.target, 37.0, &dL);
  Params<double> expect(s.net.dims());
  euler.backward(s.net, all, dL, expect);

  for (int threads : {1, 2, 3}) {
    BatchGradient<double> bg(s.config.integrator, s.task->grid(), LabelType::kPm1, threads);
    Params<double> grad;
    const auto r =
        bg.loss_and_gradient(s.net, *s.task, Split::kTrain, s.indices.data(), 37, 37.0, grad);
    // Sums of the same terms in another grouping: agreement to rounding.
    EXPECT_NEAR(r.loss, loss, 1e-14) << threads << " threads";
    EXPECT_LT((grad.flat() - expect.flat()).norm(), 1e-13 * expect.flat().norm());
    EXPECT_EQ(r.metrics.result().n, 37);
    const auto e = bg.evaluate(s.net, *s.task, Split::kTrain, s.indices.data(), 37);
    EXPECT_NEAR(e.loss, loss, 1e-14);
  }
}

TEST(BatchGradient, SameBitsOnAnyThreadCount) {
  const test::BatchSetup s = make_setup(50);
  Params<double> reference;
  double reference_loss = 0;
  for (int threads : {1, 2, 4}) {
    BatchGradient<double> bg(s.config.integrator, s.task->grid(), LabelType::kPm1, threads);
    Params<double> grad;
    const auto r =
        bg.loss_and_gradient(s.net, *s.task, Split::kTrain, s.indices.data(), 50, 50.0, grad);
    if (threads == 1) {
      reference = grad;
      reference_loss = r.loss;
      continue;
    }
    EXPECT_EQ(r.loss, reference_loss) << threads << " threads";
    EXPECT_TRUE((grad.flat().array() == reference.flat().array()).all()) << threads << " threads";
  }
}

TEST(BatchGradient, RecurrentNoiseIsAFunctionOfTheTrialAndEpoch) {
  // With rnn.noise_std > 0 every trial's noise is keyed by (seed, split, trial, epoch): the same
  // bits on any thread count and in any order of the batch, other numbers in another epoch, and
  // validation noise that ignores the training epoch.
  test::BatchSetup s = make_setup(40);
  s.net.noise_std = 0.2;
  s.net.noise_seed = 17;
  const auto loss_grad = [&](int threads, std::uint32_t epoch, const std::vector<std::int64_t>& idx,
                             Params<double>& grad) {
    BatchGradient<double> bg(s.config.integrator, s.task->grid(), LabelType::kPm1, threads);
    bg.set_noise_epoch(epoch);
    return bg.loss_and_gradient(s.net, *s.task, Split::kTrain, idx.data(), 40, 40.0, grad).loss;
  };
  Params<double> g1, g2, g3, g4;
  const double l1 = loss_grad(1, 3, s.indices, g1);
  const double l2 = loss_grad(2, 3, s.indices, g2);
  EXPECT_EQ(l1, l2);
  EXPECT_TRUE((g1.flat().array() == g2.flat().array()).all());
  // The batch reversed: the same trials in other blocks; sums in another order agree to rounding.
  std::vector<std::int64_t> reversed(s.indices.rbegin(), s.indices.rend());
  const double l3 = loss_grad(2, 3, reversed, g3);
  EXPECT_NEAR(l3, l1, 1e-13 * l1);
  EXPECT_LT((g3.flat() - g1.flat()).norm(), 1e-12 * g1.flat().norm());
  const double l4 = loss_grad(1, 4, s.indices, g4);
  EXPECT_GT(std::abs(l4 - l1), 1e-6 * l1) << "another epoch must draw other noise";

  const auto val = [&](std::uint32_t epoch) {
    BatchGradient<double> bg(s.config.integrator, s.task->grid(), LabelType::kPm1, 1);
    bg.set_noise_epoch(epoch);
    return bg.evaluate(s.net, *s.task, Split::kValidation, s.indices.data(), 40).loss;
  };
  EXPECT_EQ(val(0), val(5));
}

}  // namespace
}  // namespace lrnn
