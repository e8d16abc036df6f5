// Fuzz target of the config loader: the input is YAML text, optionally followed by NUL-separated
// --set overrides ("text\0rnn.N=3\0task.coherences=[0.5]"). parse_config must either return a valid
// config or throw ConfigError; a config it returns must survive to_yaml -> parse_config unchanged.
// Anything else (another exception, a crash, UB, a leak, a hang) is a finding.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string text = input;
  std::vector<std::string> overrides;
  if (const auto nul = input.find('\0'); nul != std::string::npos) {
    text = input.substr(0, nul);
    std::size_t start = nul + 1;
    while (start <= input.size()) {
      const auto end = std::min(input.find('\0', start), input.size());
      overrides.push_back(input.substr(start, end - start));
      start = end + 1;
    }
  }
  lrnn::Config config;
  try {
    config = lrnn::parse_config(text, "fuzz.yaml", overrides);
  } catch (const lrnn::ConfigError&) {
    return 0;
  }
  // A resolved config is what a run directory and a checkpoint store: it must read back as
  // itself, or --resume would refuse the run that wrote it.
  const std::string yaml = lrnn::to_yaml(config);
  std::string again;
  try {
    again = lrnn::to_yaml(lrnn::parse_config(yaml, "round-trip"));
  } catch (const lrnn::ConfigError& e) {
    std::fprintf(stderr, "round trip: the written config does not load: %s\n%s", e.what(),
                 yaml.c_str());
    std::abort();
  }
  if (again != yaml) {
    std::fprintf(stderr, "round trip changed the config:\n%s---\n%s", yaml.c_str(), again.c_str());
    std::abort();
  }
  return 0;
}
