// metrics.jsonl: one JSON object per line, appended and flushed as training goes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace lrnn {

/// Builds one JSON object, keys in the order added (nlohmann-json underneath, not exposed here).
/// Numbers print in their shortest round-trip form; non-finite ones as null (JSON has no NaN).
class JsonObject {
 public:
  JsonObject();
  ~JsonObject();
  JsonObject(const JsonObject& other);
  JsonObject& operator=(const JsonObject& other);
  JsonObject(JsonObject&& other) noexcept;
  JsonObject& operator=(JsonObject&& other) noexcept;

  JsonObject& add(std::string_view key, double value);
  JsonObject& add(std::string_view key, std::int64_t value);
  JsonObject& add(std::string_view key, int value) { return add(key, std::int64_t{value}); }
  JsonObject& add(std::string_view key, std::string_view value);
  /// A string literal is text, not a bool (the pointer would otherwise convert to bool).
  JsonObject& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  JsonObject& add(std::string_view key, bool value);
  /// A nested object.
  JsonObject& add(std::string_view key, const JsonObject& value);
  /// A value given as JSON text (such as a report's to_json()), parsed into the document.
  /// Throws std::invalid_argument if `json` is not one JSON value.
  JsonObject& add_json(std::string_view key, std::string_view json);
  /// The object as one line of JSON.
  std::string str() const;

 private:
  friend struct JsonObjectAccess;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class MetricsLog {
 public:
  /// Opens `path` for appending. With `keep_through_step` >= 0 (a resume), lines whose "step" is
  /// larger are dropped first, so the log continues exactly where the checkpoint was.
  explicit MetricsLog(const std::string& path, std::int64_t keep_through_step = -1);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void write(const JsonObject& line);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace lrnn
