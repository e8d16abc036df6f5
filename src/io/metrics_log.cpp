#include "lrnn/io/metrics_log.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "lrnn/core/errors.hpp"

namespace lrnn {

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void JsonObject::key(std::string_view k) {
  if (text_.size() > 1) text_ += ", ";
  text_ += json_quote(k);
  text_ += ": ";
}

JsonObject& JsonObject::add(std::string_view k, double v) {
  key(k);
  text_ += std::isfinite(v) ? fmt::format("{:.9g}", v) : "null";
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, std::int64_t v) {
  key(k);
  text_ += std::to_string(v);
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, std::string_view v) {
  key(k);
  text_ += json_quote(v);
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, bool v) {
  key(k);
  text_ += v ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::add_raw(std::string_view k, std::string_view json) {
  key(k);
  text_ += json;
  return *this;
}

namespace {

// The "step" of a metrics line, or -1 if it has none.
std::int64_t step_of(const std::string& line) {
  const auto pos = line.find("\"step\": ");
  if (pos == std::string::npos) return -1;
  return std::strtoll(line.c_str() + pos + 8, nullptr, 10);
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path, std::int64_t keep_through_step) : path_(path) {
  if (keep_through_step >= 0) {
    std::vector<std::string> kept;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && step_of(line) <= keep_through_step) kept.push_back(line);
    }
    in.close();
    // Rewrite into a temporary file and rename it over the log, so a crash here loses nothing.
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      for (const auto& l : kept) out << l << '\n';
      out.flush();
      if (!out) throw IoError(path + ": cannot rewrite the metrics log");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      throw IoError(path + ": cannot rewrite the metrics log: " + std::strerror(errno));
    }
  }
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw IoError(path + ": cannot open for writing: " + std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const JsonObject& line) {
  const std::string s = line.str() + "\n";
  if (std::fwrite(s.data(), 1, s.size(), file_) != s.size() || std::fflush(file_) != 0) {
    throw IoError(path_ + ": write failed: " + std::strerror(errno));
  }
}

}  // namespace lrnn
