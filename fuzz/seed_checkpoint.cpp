// Writes the seed corpus of fuzz_checkpoint into DIR: two real checkpoints of tiny networks, as
// lrnn-train writes them (float32, N = 3, R = 1; float64, N = 2, R = 2 with the defaults of a run
// that has not validated yet), and truncations of each, so that the fuzzer starts from valid files
// and from files cut short in every region of their layout.
//   lrnn-fuzz-seed-checkpoint DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/model/network.hpp"

namespace {

namespace fs = std::filesystem;

// `name`.h5 and `name`_cut_k.h5, cut at k/8 of its length for k = 1..7.
template <typename Scalar>
void write_seeds(const fs::path& dir, const std::string& name, const lrnn::Config& config,
                 const lrnn::CheckpointMeta& meta) {
  const auto net = lrnn::init_network<Scalar>(config.rnn, meta.seed);
  lrnn::AdamState<Scalar> adam(net.theta.layout().total());
  adam.m.setConstant(Scalar(0.25));
  adam.v.setConstant(Scalar(0.5));
  adam.step = meta.step;
  const fs::path full = dir / (name + ".h5");
  lrnn::save_checkpoint(full.string(), net, adam, meta);

  std::ifstream in(full, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  constexpr int kCuts = 8;
  for (int k = 1; k < kCuts; ++k) {
    const std::size_t n = bytes.size() * static_cast<std::size_t>(k) / kCuts;
    std::ofstream out(dir / (name + "_cut_" + std::to_string(k) + ".h5"), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(n));
  }
  std::printf("%s: %zu bytes and %d truncations\n", full.c_str(), bytes.size(), kCuts - 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: lrnn-fuzz-seed-checkpoint DIR\n");
    return 2;
  }
  const fs::path dir = argv[1];
  try {
    fs::create_directories(dir);

    lrnn::Config config;
    config.rnn.N = 3;
    config.rnn.R = 1;
    lrnn::CheckpointMeta meta;
    meta.step = 7;
    meta.seed = 1;
    meta.config_yaml = lrnn::to_yaml(config);
    meta.best_val_loss = 0.5;
    meta.best_step = 5;
    write_seeds<float>(dir, "tiny", config, meta);

    config.rnn.N = 2;
    config.rnn.R = 2;
    config.training.precision = lrnn::Precision::kFloat64;
    lrnn::CheckpointMeta meta64;
    meta64.seed = 2;
    meta64.precision = lrnn::Precision::kFloat64;
    meta64.config_yaml = lrnn::to_yaml(config);
    write_seeds<double>(dir, "tiny64", config, meta64);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lrnn-fuzz-seed-checkpoint: %s\n", e.what());
    return 1;
  }
  return 0;
}
