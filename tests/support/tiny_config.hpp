// The tiny network and task of the end-to-end tests (N = 24, trials of 8 time units) as a config
// file's text; each test writes its own training section.
#pragma once

#include <string>

namespace lrnn::test {

/// "rnn: N: 24, task: T_burn 2, T_stim 6, T_avg 2, training:" followed by `training`, the
/// section's lines as YAML (indented by two spaces).
inline std::string tiny_config_yaml(const std::string& training) {
  return "rnn:\n  N: 24\ntask:\n  T_burn: 2\n  T_stim: 6\n  T_avg: 2\ntraining:\n" + training;
}

}  // namespace lrnn::test
