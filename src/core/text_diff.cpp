#include "lrnn/core/text_diff.hpp"

#include <sstream>

namespace lrnn {

std::optional<std::pair<std::string, std::string>> first_different_lines(const std::string& a,
                                                                         const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string la, lb;
  while (true) {
    const bool ga = static_cast<bool>(std::getline(sa, la));
    const bool gb = static_cast<bool>(std::getline(sb, lb));
    if (!ga && !gb) return std::nullopt;
    if (!ga) la = "(end)";
    if (!gb) lb = "(end)";
    if (la != lb || ga != gb) return std::make_pair(la, lb);
  }
}

}  // namespace lrnn
