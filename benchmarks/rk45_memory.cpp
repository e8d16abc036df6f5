// Memory of the two rk45 gradients against the trial length T (issue 3): the discrete adjoint
// (bptt) stores every accepted state, the continuous adjoint a fixed number of checkpoints plus a
// bounded recomputation buffer. Prints one row per (T, method) for the default network
// (N = 500, R = 2, one block of 16 trials, float32, rtol 1e-4 / atol 1e-6 as configs/rk45.yaml).
//   build/benchmarks/lrnn-rk45-memory [--N 500] [--checkpoints 16]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/integrate/adaptive_driver.hpp"
#include "lrnn/integrate/rk45_adjoint.hpp"
#include "lrnn/integrate/rk45_bptt.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/loss.hpp"

namespace {

using lrnn::Index;

template <typename Method>
void solve(Method& m, const lrnn::Network<float>& net, const lrnn::TrialBatch<float>& batch) {
  lrnn::VecX<float> y(batch.n_trials), dL;
  m.forward(net, batch, y);
  lrnn::batch_loss<float>(lrnn::LabelType::kPm1, y, batch.target,
                          static_cast<double>(batch.n_trials), &dL);
  lrnn::Params<float> grad(net.dims());
  m.backward(net, batch, dL, grad);
}

}  // namespace

int main(int argc, char** argv) {
  int N = 500;
  int checkpoints = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--N") == 0) N = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--checkpoints") == 0) checkpoints = std::atoi(argv[i + 1]);
  }
  lrnn::Config c;
  c.rnn.N = N;
  c.integrator.method = lrnn::Method::kRk45;
  c.integrator.rtol = 1e-4;
  c.integrator.atol = 1e-6;
  const auto net = lrnn::init_network<float>(c.rnn, 0);
  constexpr Index kTrials = 16;
  std::printf("%6s  %-8s %8s %10s %12s %10s %10s\n", "T", "gradient", "steps", "states", "state MB",
              "RHS fwd", "RHS bwd");
  for (const double T_stim : {85.0, 385.0, 1585.0}) {
    c.task.T_stim = T_stim;
    lrnn::ContextSwitchTask task(c.task, c.integrator.dt, 0, kTrials, 1, 0);
    std::vector<std::int64_t> idx(kTrials);
    std::iota(idx.begin(), idx.end(), 0);
    lrnn::TrialBatch<float> batch;
    task.fill(lrnn::Split::kTrain, idx.data(), kTrials, batch);
    const auto opts = lrnn::driver_options(c.integrator);
    // One state is the (N + 1) x B block: the units plus the window quadrature row.
    const double mb_per_state = static_cast<double>((N + 1) * kTrials * sizeof(float)) / 1e6;

    lrnn::Rk45Bptt<float> bptt(task.grid(), opts);
    solve(bptt, net, batch);
    const auto bptt_states = static_cast<Index>(bptt.steps().size());
    std::printf("%6.0f  %-8s %8lld %10lld %12.1f %10lld %10lld\n", task.grid().T, "bptt",
                static_cast<long long>(bptt.stats().steps_accepted),
                static_cast<long long>(bptt_states),
                static_cast<double>(bptt_states) * mb_per_state,
                static_cast<long long>(bptt.stats().rhs_forward),
                static_cast<long long>(bptt.stats().rhs_backward));

    lrnn::Rk45Adjoint<float> adj(task.grid(), opts, checkpoints);
    solve(adj, net, batch);
    std::printf("%6.0f  %-8s %8lld %10lld %12.1f %10lld %10lld\n", task.grid().T, "adjoint",
                static_cast<long long>(adj.stats().steps_accepted),
                static_cast<long long>(adj.stored_states()),
                static_cast<double>(adj.stored_states()) * mb_per_state,
                static_cast<long long>(adj.stats().rhs_forward),
                static_cast<long long>(adj.stats().rhs_backward));
  }
  return 0;
}
