// A small network (N = 20, short trials) and a generator of its trials, for tests of the batch
// gradient: test_batch_gradient (blocks and threads) and test_mpi_split (ranks).
#pragma once

#include <cstdint>
#include <memory>
#include <numeric>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/task/context_switch.hpp"

namespace lrnn::test {

struct BatchSetup {
  Config config;
  Network<double> net;
  std::unique_ptr<ContextSwitchTask> task;
  std::vector<std::int64_t> indices;  ///< `trials` consecutive training trials
};

/// The network of seed 4 and the training trials first_index, first_index + 1, ...
inline BatchSetup make_batch_setup(Index trials, std::int64_t first_index) {
  BatchSetup s;
  s.config.rnn.N = 20;
  s.config.task.T_burn = 2;
  s.config.task.T_stim = 6;
  s.config.task.T_avg = 2;
  s.net = init_network<double>(s.config.rnn, 4);
  s.task = std::make_unique<ContextSwitchTask>(s.config.task, 0.1, 4, 1000, 100, 0);
  s.indices.resize(static_cast<std::size_t>(trials));
  std::iota(s.indices.begin(), s.indices.end(), first_index);
  return s;
}

}  // namespace lrnn::test
