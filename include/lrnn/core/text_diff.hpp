// The first line at which two texts differ: for messages that show a user where two configs (a
// checkpoint's and the one given, or two ranks') part.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace lrnn {

/// The first pair of lines that differ, as (line of a, line of b); a text that ends first gives
/// "(end)". nullopt when the texts have the same lines.
std::optional<std::pair<std::string, std::string>> first_different_lines(const std::string& a,
                                                                         const std::string& b);

}  // namespace lrnn
