// JSON in tests: documents and metrics.jsonl lines parsed with nlohmann-json, so that tests
// assert on values, not on how a writer spaces or formats them.
#pragma once

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace lrnn::test {

/// Keys keep the order of the file (field order is part of what the writers promise).
using Json = nlohmann::ordered_json;

/// The parsed document, or nullopt if `text` is not exactly one JSON document (RFC 8259).
inline std::optional<Json> parse_json(const std::string& text) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  return doc;
}

/// Every non-empty line of a JSON-lines file (metrics.jsonl), parsed; a line that does not
/// parse is a discarded value (is_discarded()).
inline std::vector<Json> read_json_lines(const std::string& path) {
  std::vector<Json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(Json::parse(line, nullptr, false));
  }
  return out;
}

/// `key` of a metrics line as a number: NaN when it is missing or null (non-finite numbers are
/// written as null).
inline double number_of(const Json& line, const std::string& key) {
  const auto it = line.find(key);
  if (it == line.end() || !it->is_number()) return std::numeric_limits<double>::quiet_NaN();
  return it->get<double>();
}

/// The keys of an object, in order.
inline std::vector<std::string> keys_of(const Json& object) {
  std::vector<std::string> out;
  for (const auto& item : object.items()) out.push_back(item.key());
  return out;
}

}  // namespace lrnn::test
