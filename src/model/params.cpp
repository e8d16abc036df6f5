#include "lrnn/model/params.hpp"

namespace lrnn {

std::string_view group_name(Group g) {
  switch (g) {
    case Group::kM:
      return "M";
    case Group::kN:
      return "n";
    case Group::kB:
      return "B";
    case Group::kW:
      return "w";
    case Group::kBias:
      return "b";
  }
  return "?";
}

ParamLayout::ParamLayout(Dims d) : dims(d) {
  size_ = {d.N * d.R, d.N * d.R, d.N * d.d_in, d.N, 1};
  Index off = 0;
  for (int i = 0; i < 5; ++i) {
    offset_[i] = off;
    off += size_[i];
  }
}

Index ParamLayout::rows(Group g) const { return g == Group::kBias ? 1 : dims.N; }

Index ParamLayout::cols(Group g) const {
  switch (g) {
    case Group::kM:
    case Group::kN:
      return dims.R;
    case Group::kB:
      return dims.d_in;
    case Group::kW:
    case Group::kBias:
      return 1;
  }
  return 0;
}

}  // namespace lrnn
