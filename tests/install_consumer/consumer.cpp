// A program of a user of the installed lrnn, built with the consumer project's default settings
// (no C++ standard, no -march): draws a network, writes it as a checkpoint, loads it back and
// compares. Matrices made inside lrnn are destroyed here, so a mismatch of Eigen's alignment
// between lrnn and this program aborts it (lrnn's cmake/LrnnEigenAbi.cmake).
#include <cstdio>
#include <exception>

#include "lrnn/config/config.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/model/network.hpp"
#include "lrnn/train/trainer.hpp"  // C++20 (std::span, concepts) through its includes

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer CHECKPOINT.h5\n");
    return 2;
  }
  try {
    lrnn::RnnOptions rnn;
    rnn.N = 30;
    const lrnn::Network<float> net = lrnn::init_network<float>(rnn, /*seed=*/7);
    lrnn::AdamState<float> adam(net.theta.layout().total());
    adam.step = 3;
    lrnn::CheckpointMeta meta;
    meta.step = 3;
    meta.config_yaml = "rnn:\n  N: 30\n";
    lrnn::save_checkpoint(argv[1], net, adam, meta);

    const lrnn::LoadedCheckpoint<float> loaded = lrnn::load_checkpoint<float>(argv[1]);
    const bool same = loaded.net.C == net.C && loaded.net.theta.flat() == net.theta.flat() &&
                      loaded.adam.step == 3 && loaded.info.dims.N == 30;
    std::printf("consumer: N = %lld, %lld parameters, round trip %s\n",
                static_cast<long long>(loaded.info.dims.N),
                static_cast<long long>(loaded.net.theta.flat().size()), same ? "equal" : "DIFFERS");
    return same ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
