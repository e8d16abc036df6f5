// Reading what the apps and the trainer write, for tests.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

/// The "loss" of every line of a metrics.jsonl.
inline std::vector<double> metrics_losses(const std::string& metrics_path) {
  std::vector<double> out;
  std::ifstream in(metrics_path);
  for (std::string line; std::getline(in, line);) {
    const auto pos = line.find("\"loss\": ");
    if (pos != std::string::npos) out.push_back(std::stod(line.substr(pos + 8)));
  }
  return out;
}

}  // namespace lrnn::test
