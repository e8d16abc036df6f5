// The data-parallel split without MPI: ranks are simulated by a communicator that says it is rank r
// of P and whose collectives do nothing, so each "rank" returns its own partial sums; adding them
// must give the one-process batch gradient. Also the agreement helpers of core/comm.hpp.
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/comm.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/batch_gradient.hpp"
#include "support/batch_setup.hpp"

namespace lrnn {
namespace {

// Rank `rank` of `size`; allreduce leaves the data alone, so a BatchGradient returns this rank's
// partial sums. broadcast() replaces the text with `root_text` on its first call when set (what
// rank 0 would have sent).
class FakeComm final : public Comm {
 public:
  FakeComm(int rank, int size, std::string root_text = {})
      : rank_(rank), size_(size), root_text_(std::move(root_text)) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return size_; }
  void allreduce_sum(double*, std::size_t) const override { ++reductions_; }
  void allreduce_max(double*, std::size_t) const override {}
  void broadcast(std::string& text, int) const override {
    if (broadcasts_++ == 0 && !root_text_.empty()) text = root_text_;
  }
  std::vector<std::string> gather(const std::string& text, int) const override { return {text}; }
  void barrier() const override {}
  [[noreturn]] void abort(int) const override { std::abort(); }

  mutable int reductions_ = 0;

 private:
  int rank_, size_;
  std::string root_text_;
  mutable int broadcasts_ = 0;
};

TEST(RankRange, ContiguousCoveringAndBalanced) {
  for (long long n = 0; n <= 40; ++n) {
    for (int p = 1; p <= 9; ++p) {
      long long next = 0;
      for (int r = 0; r < p; ++r) {
        const RankRange rr = rank_range(n, r, p);
        EXPECT_EQ(rr.first, next) << n << " items, rank " << r << " of " << p;
        EXPECT_GE(rr.last - rr.first, n / p);
        EXPECT_LE(rr.last - rr.first, n / p + 1);
        next = rr.last;
      }
      EXPECT_EQ(next, n);
    }
  }
}

test::BatchSetup make_setup(Index trials) { return test::make_batch_setup(trials, 3); }

class SplitOverRanks : public ::testing::TestWithParam<int> {};

// 83 trials are 6 blocks (5 of 16 and one of 3): 2 ranks get 3 blocks each, 4 ranks 1 or 2, and
// 8 ranks leave two ranks idle.
TEST_P(SplitOverRanks, PartialSumsAddUpToTheOneProcessBatch) {
  const int P = GetParam();
  constexpr Index kTrials = 83;
  // The same terms summed in another grouping: agreement to a few ulps of double.
  constexpr double kRelTol = 1e-13;
  const test::BatchSetup s = make_setup(kTrials);
  BatchGradient<double> one(s.config.integrator, s.task->grid(), LabelType::kPm1, 2);
  Params<double> expect;
  const auto whole = one.loss_and_gradient(s.net, *s.task, Split::kTrain, s.indices.data(), kTrials,
                                           static_cast<double>(kTrials), expect);

  Params<double> sum(s.net.dims());
  sum.set_zero();
  double loss = 0.0;
  MetricsAccumulator metrics(LabelType::kPm1);
  double flags = 0.0;
  for (int r = 0; r < P; ++r) {
    const FakeComm comm(r, P);
    BatchGradient<double> bg(s.config.integrator, s.task->grid(), LabelType::kPm1, 2, comm);
    Params<double> grad;
    double flag = r == 1 ? 1.0 : 0.0;  // a number reduced with the gradient
    const auto part =
        bg.loss_and_gradient(s.net, *s.task, Split::kTrain, s.indices.data(), kTrials,
                             static_cast<double>(kTrials), grad, std::span<double>(&flag, 1));
    EXPECT_EQ(comm.reductions_, P > 1 ? 1 : 0) << "one allreduce per step, none alone";
    const RankRange blocks = rank_range(6, r, P);
    if (blocks.first == blocks.last) {
      EXPECT_EQ(part.loss, 0.0) << "an idle rank adds nothing";
      EXPECT_EQ(grad.flat().norm(), 0.0);
    }
    sum.flat() += grad.flat();
    loss += part.loss;
    metrics.merge(part.metrics);
    flags += flag;
  }
  EXPECT_NEAR(loss, whole.loss, kRelTol * whole.loss);
  EXPECT_LT((sum.flat() - expect.flat()).norm(), kRelTol * expect.flat().norm());
  EXPECT_EQ(metrics.result().n, kTrials);
  EXPECT_EQ(metrics.result().accuracy, whole.metrics.result().accuracy);
  EXPECT_EQ(flags, P > 1 ? 1.0 : 0.0);
}

TEST_P(SplitOverRanks, EvaluationPartsAddUpToTheWholeSet) {
  const int P = GetParam();
  const test::BatchSetup s = make_setup(83);
  BatchGradient<double> one(s.config.integrator, s.task->grid(), LabelType::kPm1, 1);
  const auto whole = one.evaluate(s.net, *s.task, Split::kValidation, s.indices.data(), 83);
  MetricsAccumulator metrics(LabelType::kPm1);
  for (int r = 0; r < P; ++r) {
    const FakeComm comm(r, P);
    BatchGradient<double> bg(s.config.integrator, s.task->grid(), LabelType::kPm1, 1, comm);
    metrics.merge(bg.evaluate(s.net, *s.task, Split::kValidation, s.indices.data(), 83).metrics);
  }
  const TaskMetrics m = metrics.result(), w = whole.metrics.result();
  EXPECT_EQ(m.n, w.n);
  EXPECT_EQ(m.n_ctx[0], w.n_ctx[0]);
  EXPECT_EQ(m.accuracy_ctx[1], w.accuracy_ctx[1]);
  EXPECT_NEAR(m.loss, w.loss, 1e-14);
}

INSTANTIATE_TEST_SUITE_P(Ranks, SplitOverRanks, ::testing::Values(1, 2, 4, 8),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "ranks";
                         });

TEST(MetricsAccumulator, PackUnpackIsTheIdentity) {
  MetricsAccumulator a(LabelType::kPm1);
  VecX<double> y(5), t(5);
  y << 0.5, -0.2, 0.9, -1.0, 0.1;
  t << 1, 1, -1, -1, 1;
  a.add(y, t, {1, 2, 1, 2, 0});
  double packed[MetricsAccumulator::kPackedSize];
  a.pack(packed);
  MetricsAccumulator b(LabelType::kPm1);
  b.unpack(packed);
  const TaskMetrics ma = a.result(), mb = b.result();
  EXPECT_EQ(ma.loss, mb.loss);
  EXPECT_EQ(ma.accuracy, mb.accuracy);
  EXPECT_EQ(ma.n_ctx[0], mb.n_ctx[0]);
  EXPECT_EQ(ma.accuracy_ctx[1], mb.accuracy_ctx[1]);
}

TEST(SerialComm, IsOneRankAndLeavesDataAlone) {
  const Comm& c = serial_comm();
  EXPECT_EQ(c.rank(), 0);
  EXPECT_EQ(c.size(), 1);
  EXPECT_TRUE(c.is_root());
  double x[2] = {1.5, -2.0};
  c.allreduce_sum(x, 2);
  c.allreduce_max(x, 2);
  EXPECT_EQ(x[0], 1.5);
  EXPECT_EQ(x[1], -2.0);
  std::string t = "abc";
  c.broadcast(t);
  EXPECT_EQ(t, "abc");
  EXPECT_EQ(c.gather("x"), std::vector<std::string>{"x"});
}

TEST(RunCollectively, AloneTheErrorPassesUnchanged) {
  try {
    run_collectively(serial_comm(), [] { throw ConfigError("bad key"); });
    FAIL() << "no throw";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "bad key");
    EXPECT_EQ(collective_mark(e), nullptr);
    EXPECT_EQ(exit_code_of(e), 2);
  }
}

TEST(RunCollectively, AnotherRanksErrorIsCollectiveAndNamesTheRank) {
  // Rank 1 of 2 fails alone (its own max is its own flag): the error carries its rank and the
  // exit code of the kind of error.
  const FakeComm rank1(1, 2);
  try {
    run_collectively(rank1, [] { throw InputError("runs/x/best.h5: not found"); });
    FAIL() << "no throw";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "rank 1: runs/x/best.h5: not found");
    ASSERT_NE(collective_mark(e), nullptr);
    EXPECT_EQ(exit_code_of(e), 2);
  }
  try {
    run_collectively(rank1, [] { throw IoError("disk full"); });
    FAIL() << "no throw";
  } catch (const Error& e) {
    ASSERT_NE(collective_mark(e), nullptr);
    EXPECT_EQ(exit_code_of(e), 1);
  }
  EXPECT_NO_THROW(run_collectively(rank1, [] {}));
}

TEST(RequireSame, NamesTheFirstDifferingLine) {
  EXPECT_NO_THROW(require_same_on_all_ranks(serial_comm(), "a: 1\n", "the config"));
  const FakeComm rank1(1, 2, "training.seed: 0\ntraining.lr: 1\n");
  try {
    require_same_on_all_ranks(rank1, "training.seed: 1\ntraining.lr: 1\n", "the config");
    FAIL() << "no throw";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(),
                 "rank 1: the config differs from rank 0's: 'training.seed: 1' here vs "
                 "'training.seed: 0' on rank 0");
    EXPECT_NE(collective_mark(e), nullptr);
  }
  const FakeComm same(1, 2, "x: 1\n");
  EXPECT_NO_THROW(require_same_on_all_ranks(same, "x: 1\n", "the config"));
}

TEST(CollectiveError, IsCaughtAsItsType) {
  try {
    throw Collective<NumericalError>("step 3: the loss is NaN", 1);
  } catch (const NumericalError& e) {
    ASSERT_NE(collective_mark(e), nullptr);
    EXPECT_EQ(exit_code_of(e), 1);
  }
  EXPECT_EQ(exit_code_of(NumericalError("x")), 1);
  EXPECT_EQ(exit_code_of(ConfigError("x")), 2);
}

}  // namespace
}  // namespace lrnn
