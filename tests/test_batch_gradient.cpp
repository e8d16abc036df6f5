// The batch gradient over blocks and threads equals one solve of the whole batch, and does not
// depend on the thread count.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "lrnn/integrate/euler_bptt.hpp"
#include "lrnn/io/config.hpp"
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

}  // namespace
}  // namespace lrnn
