// Writes the seed corpus of fuzz_checkpoint into DIR: a real checkpoint of a tiny network (N = 3,
// R = 1, d_in = 4), as lrnn-train writes it, and truncations of it, so that the fuzzer starts from
// a valid file and from files cut short at every region of its layout.
//   lrnn-fuzz-seed-checkpoint DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "lrnn/core/errors.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/io/config.hpp"
#include "lrnn/model/network.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: lrnn-fuzz-seed-checkpoint DIR\n");
    return 2;
  }
  namespace fs = std::filesystem;
  const fs::path dir = argv[1];
  try {
    fs::create_directories(dir);
    lrnn::Config config;
    config.rnn.N = 3;
    config.rnn.R = 1;
    const auto net = lrnn::init_network<float>(config.rnn, 1);
    lrnn::AdamState<float> adam(net.theta.layout().total());
    adam.m.setConstant(0.25f);
    adam.v.setConstant(0.5f);
    adam.step = 7;
    lrnn::CheckpointMeta meta;
    meta.step = 7;
    meta.seed = 1;
    meta.config_yaml = lrnn::to_yaml(config);
    meta.best_val_loss = 0.5;
    meta.best_step = 5;
    const fs::path full = dir / "tiny.h5";
    lrnn::save_checkpoint(full.string(), net, adam, meta);

    std::ifstream in(full, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    constexpr int kCuts = 8;  // truncated at 1/8, 2/8, ... 7/8 of the file
    for (int k = 1; k < kCuts; ++k) {
      const std::size_t n = bytes.size() * static_cast<std::size_t>(k) / kCuts;
      std::ofstream out(dir / ("tiny_cut_" + std::to_string(k) + ".h5"), std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(n));
    }
    std::printf("%s: %zu bytes and %d truncations\n", full.c_str(), bytes.size(), kCuts - 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lrnn-fuzz-seed-checkpoint: %s\n", e.what());
    return 1;
  }
  return 0;
}
