#include "lrnn/io/metrics_log.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "io/json.hpp"
#include "lrnn/core/errors.hpp"

namespace lrnn {

struct JsonObject::Impl {
  detail::Json json = detail::Json::object();
};

struct JsonObjectAccess {
  static const detail::Json& json(const JsonObject& o) { return o.impl_->json; }
};

JsonObject::JsonObject() : impl_(std::make_unique<Impl>()) {}
JsonObject::~JsonObject() = default;
JsonObject::JsonObject(const JsonObject& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
JsonObject& JsonObject::operator=(const JsonObject& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}
JsonObject::JsonObject(JsonObject&& other) noexcept = default;
JsonObject& JsonObject::operator=(JsonObject&& other) noexcept = default;

JsonObject& JsonObject::add(std::string_view k, double v) {
  impl_->json[std::string(k)] = detail::number(v);
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, std::int64_t v) {
  impl_->json[std::string(k)] = v;
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, std::string_view v) {
  impl_->json[std::string(k)] = std::string(v);
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, bool v) {
  impl_->json[std::string(k)] = v;
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, const JsonObject& v) {
  impl_->json[std::string(k)] = v.impl_->json;
  return *this;
}

JsonObject& JsonObject::add_json(std::string_view k, std::string_view json) {
  impl_->json[std::string(k)] = detail::parse(json);
  return *this;
}

std::string JsonObject::str() const { return detail::dump(impl_->json); }

namespace detail {

const Json& json_of(const JsonObject& object) { return JsonObjectAccess::json(object); }

std::string dump(const Json& value, int indent) {
  return value.dump(indent, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

Json parse(std::string_view text) {
  // Keys seen in each open object, to refuse a duplicate (nlohmann keeps the last silently).
  std::vector<std::vector<std::string>> keys;
  std::string duplicate;
  const Json::parser_callback_t check = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) keys.emplace_back();
    if (event == Json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == Json::parse_event_t::key && !keys.empty()) {
      const std::string key = parsed.get<std::string>();
      for (const std::string& seen : keys.back()) {
        if (seen == key && duplicate.empty()) duplicate = key;
      }
      keys.back().push_back(key);
    }
    return true;
  };
  Json out;
  try {
    out = Json::parse(text.begin(), text.end(), check);
  } catch (const Json::exception& e) {
    std::string what = e.what();
    const auto bracket = what.find("] ");
    if (what.rfind("[json.exception.", 0) == 0 && bracket != std::string::npos) {
      what.erase(0, bracket + 2);
    }
    throw std::invalid_argument(what);
  }
  if (!duplicate.empty()) throw std::invalid_argument("duplicate key \"" + duplicate + "\"");
  return out;
}

}  // namespace detail

namespace {

// The "step" of a metrics line, or -1 if it has none or is not JSON (a line torn by a crash).
std::int64_t step_of(const std::string& line) {
  const detail::Json j = detail::Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return -1;
  const auto it = j.find("step");
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : -1;
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path, std::int64_t keep_through_step) : path_(path) {
  if (keep_through_step >= 0) {
    std::vector<std::string> kept;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      const std::int64_t step = step_of(line);
      if (step >= 0 && step <= keep_through_step) kept.push_back(line);
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
