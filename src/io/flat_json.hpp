// A strict parser for one flat JSON object (RFC 8259), the shape of each line of metrics.jsonl:
// string keys, values that are strings, numbers, true, false or null. Nested arrays and objects
// are rejected: metrics.jsonl never writes them, and accepting them would hide a broken line.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lrnn::detail {

struct JsonScalar {
  enum class Type { kNull, kBool, kNumber, kString };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0.0;
  std::string string;  ///< UTF-8, escapes decoded
};

using FlatJsonObject = std::vector<std::pair<std::string, JsonScalar>>;

/// What is wrong with a line and where: `column` is 1-based, in bytes.
class JsonParseError : public std::runtime_error {
 public:
  JsonParseError(std::size_t column, const std::string& what)
      : std::runtime_error(what), column_(column) {}
  std::size_t column() const { return column_; }

 private:
  std::size_t column_;
};

/// Parses `text` as one JSON object with scalar values; whitespace around it is allowed, anything
/// else after it is not. Duplicate keys are an error. Throws JsonParseError.
FlatJsonObject parse_flat_json_object(std::string_view text);

/// The value of `key`, or nullptr.
const JsonScalar* find(const FlatJsonObject& object, std::string_view key);

}  // namespace lrnn::detail
