// Reading what the apps and the trainer write, for tests.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/json.hpp"

namespace lrnn::test {

/// The whole file as text ("" if it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Lines of text that are not empty.
inline int count_lines(const std::string& text) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
  return n;
}

/// The "loss" of every line of a metrics.jsonl that has one (NaN where it is null).
inline std::vector<double> metrics_losses(const std::string& metrics_path) {
  std::vector<double> out;
  for (const Json& line : read_json_lines(metrics_path)) {
    if (line.contains("loss")) out.push_back(number_of(line, "loss"));
  }
  return out;
}

}  // namespace lrnn::test
