// The range rules the Options checks share (not installed). Each returns true when the value
// obeys the rule, else fills the OptionError (when given) and returns false, so that a check is
// one chain of && in the order its messages should come.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "lrnn/core/option_error.hpp"

namespace lrnn::detail {

class OptionChecks {
 public:
  explicit OptionChecks(OptionError* error) : error_(error) {}

  /// Always false: "key = value: rule", pointing at the first of `keys` set in the file.
  bool fail(std::initializer_list<std::string_view> keys, std::string_view key, std::string value,
            std::string rule);

  bool at_least(std::string_view key, int value, int lo);
  bool positive(std::string_view key, double value);      ///< > 0 (NaN fails)
  bool non_negative(std::string_view key, double value);  ///< >= 0 (NaN fails)
  /// In [0, 1] or, without `include_one`, [0, 1).
  bool unit_interval(std::string_view key, double value, bool include_one);

 private:
  OptionError* error_;
};

}  // namespace lrnn::detail
