// JSON for lrnn's files and reports, with nlohmann-json: kept out of the installed headers (the
// public API passes JSON as text or as lrnn::JsonObject). ordered_json keeps keys in the order
// they are added, which is the field order of every file lrnn writes. Not installed.
#pragma once

#include <cmath>
#include <complex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "lrnn/core/types.hpp"

namespace lrnn {
class JsonObject;
}

namespace lrnn::detail {

using Json = nlohmann::ordered_json;

/// The document built by a JsonObject.
const Json& json_of(const JsonObject& object);

/// One line of text, as lrnn writes its files: nlohmann's shortest round-trip numbers, NaN and
/// Inf as null, and invalid UTF-8 replaced rather than thrown on. `indent` >= 0 pretty-prints.
std::string dump(const Json& value, int indent = -1);

/// A number, or null when it is not finite (JSON has no NaN).
inline Json number(double x) { return std::isfinite(x) ? Json(x) : Json(nullptr); }

inline Json complex_number(std::complex<double> z) {
  Json j = Json::object();
  j["re"] = number(z.real());
  j["im"] = number(z.imag());
  return j;
}

inline Json vector(const VecX<double>& v) {
  Json j = Json::array();
  for (Index i = 0; i < v.size(); ++i) j.push_back(number(v[i]));
  return j;
}

/// A matrix as an array of its rows.
inline Json matrix(const MatX<double>& m) {
  Json j = Json::array();
  for (Index i = 0; i < m.rows(); ++i) j.push_back(vector(m.row(i).transpose()));
  return j;
}

template <typename T, typename Convert>
Json list(const std::vector<T>& items, Convert&& convert) {
  Json j = Json::array();
  for (const T& item : items) j.push_back(convert(item));
  return j;
}

/// Parses one JSON document; on failure throws std::invalid_argument with nlohmann's reason
/// ("syntax error while parsing ...", "number overflow ..."), without its exception-id prefix.
/// A key that appears twice in one object is an error too (nlohmann would keep the last).
Json parse(std::string_view text);

}  // namespace lrnn::detail
