// metrics.jsonl: one JSON object per line, appended and flushed as training goes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace lrnn {

/// Builds one flat JSON object. Non-finite numbers are written as null (JSON has no NaN).
class JsonObject {
 public:
  JsonObject& add(std::string_view key, double value);
  JsonObject& add(std::string_view key, std::int64_t value);
  JsonObject& add(std::string_view key, int value) { return add(key, std::int64_t{value}); }
  JsonObject& add(std::string_view key, std::string_view value);
  /// A string literal is text, not a bool (the pointer would otherwise convert to bool).
  JsonObject& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  JsonObject& add(std::string_view key, bool value);
  /// A value that is already JSON text (an array or object).
  JsonObject& add_raw(std::string_view key, std::string_view json);
  std::string str() const { return text_ + "}"; }

 private:
  void key(std::string_view k);
  std::string text_ = "{";
};

/// Escapes a string for JSON, quotes included.
std::string json_quote(std::string_view s);

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
