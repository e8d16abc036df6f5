#include "lrnn/core/option_error.hpp"

#include <array>
#include <charconv>
#include <cmath>

#include "core/option_checks.hpp"

namespace lrnn {

std::string format_number(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  std::array<char, 64> buf{};
  const auto result =
      std::to_chars(buf.data(), buf.data() + buf.size(), x, std::chars_format::general);
  return std::string(buf.data(), result.ptr);
}

namespace detail {

bool OptionChecks::fail(std::initializer_list<std::string_view> keys, std::string_view key,
                        std::string value, std::string rule) {
  if (error_ != nullptr) {
    error_->key = std::string(key);
    error_->value = std::move(value);
    error_->rule = std::move(rule);
    error_->keys.assign(keys.begin(), keys.end());
  }
  return false;
}

bool OptionChecks::at_least(std::string_view key, int value, int lo) {
  return value >= lo || fail({key}, key, std::to_string(value), "must be >= " + std::to_string(lo));
}

bool OptionChecks::positive(std::string_view key, double value) {
  return value > 0.0 || fail({key}, key, format_number(value), "must be > 0");
}

bool OptionChecks::non_negative(std::string_view key, double value) {
  return value >= 0.0 || fail({key}, key, format_number(value), "must be >= 0");
}

bool OptionChecks::unit_interval(std::string_view key, double value, bool include_one) {
  const bool inside = value >= 0.0 && (include_one ? value <= 1.0 : value < 1.0);
  return inside || fail({key}, key, format_number(value),
                        include_one ? "must be in [0, 1]" : "must be in [0, 1)");
}

}  // namespace detail
}  // namespace lrnn
