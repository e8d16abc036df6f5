// JSON text for the arrays of the analysis reports. Numbers as JsonObject writes them (9
// significant digits, null for NaN/Inf), so that one document never mixes two formats.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "lrnn/core/types.hpp"

namespace lrnn::detail {

inline std::string json_number(double x) {
  return std::isfinite(x) ? fmt::format("{:.9g}", x) : "null";
}

inline std::string json_complex(std::complex<double> z) {
  return fmt::format(R"({{"re": {}, "im": {}}})", json_number(z.real()), json_number(z.imag()));
}

template <typename T, typename Format>
std::string json_list(const std::vector<T>& items, Format&& format) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += format(items[i]);
  }
  return out + "]";
}

inline std::string json_vector(const VecX<double>& v) {
  std::string out = "[";
  for (Index i = 0; i < v.size(); ++i) {
    if (i > 0) out += ", ";
    out += json_number(v[i]);
  }
  return out + "]";
}

/// A matrix as an array of its rows.
inline std::string json_matrix(const MatX<double>& m) {
  std::string out = "[";
  for (Index i = 0; i < m.rows(); ++i) {
    if (i > 0) out += ", ";
    out += json_vector(m.row(i).transpose());
  }
  return out + "]";
}

}  // namespace lrnn::detail
