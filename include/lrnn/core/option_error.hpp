// What an Options struct's check found wrong, without YAML: each component's `IsValid` (as Ceres's
// Solver::Options::IsValid) names the key, its value and the rule; config/ adds the file and line
// of the key (or of the first of `keys` that was set) in front of the message.
#pragma once

#include <string>
#include <vector>

namespace lrnn {

struct OptionError {
  std::string key;    ///< the key path the message names, e.g. "rnn.R" or "task.coherences[2]"
  std::string value;  ///< its value as text, e.g. "-0.1"
  std::string rule;   ///< what it must be, e.g. "must be <= rnn.N (500)"
  /// The keys whose place in the config file the message points at, in order of preference (the
  /// first one set there wins); empty: `key` alone.
  std::vector<std::string> keys;

  /// "key = value: rule".
  std::string message() const { return key + " = " + value + ": " + rule; }
};

/// A number as the messages show it: shortest round-trip form ("0.1", "1e-08"), "nan", "inf".
std::string format_number(double x);

}  // namespace lrnn
