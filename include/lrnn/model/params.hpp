// Trainable parameters theta = (M, n, B, w, b) in one contiguous vector, so that Adam, clipping,
// weight decay and the gradient sum (threads today, MPI ranks later) each work on one flat buffer.
// Layout: [M (N x R) | n (N x R) | B (N x d_in) | w (N) | b (1)], each block column-major.
#pragma once

#include <array>
#include <string_view>

#include "lrnn/core/types.hpp"

namespace lrnn {

/// Sizes of the network: N units, rank R, d_in input channels.
struct Dims {
  Index N = 0;
  Index R = 0;
  Index d_in = 0;
  bool operator==(const Dims&) const = default;
};

/// The trainable groups, in storage order.
enum class Group { kM = 0, kN = 1, kB = 2, kW = 3, kBias = 4 };
inline constexpr std::array<Group, 5> kAllGroups = {Group::kM, Group::kN, Group::kB, Group::kW,
                                                    Group::kBias};
/// Names as in checkpoints (/params/<name>) and the config (training.train_<name>).
std::string_view group_name(Group g);

/// Offset and length of each group inside the flat vector.
struct ParamLayout {
  Dims dims;
  explicit ParamLayout(Dims d = {});
  Index offset(Group g) const { return offset_[static_cast<int>(g)]; }
  Index size(Group g) const { return size_[static_cast<int>(g)]; }
  Index rows(Group g) const;
  Index cols(Group g) const;
  /// 2NR + N d_in + N + 1 (4501 for N = 500, R = 2, d_in = 4).
  Index total() const { return offset_[4] + size_[4]; }

 private:
  std::array<Index, 5> offset_{};
  std::array<Index, 5> size_{};
};

/// theta, or a gradient or optimizer moment with the same layout.
template <typename Scalar>
class Params {
 public:
  using Mat = Eigen::Map<MatX<Scalar>>;
  using ConstMat = Eigen::Map<const MatX<Scalar>>;
  using Vec = Eigen::Map<VecX<Scalar>>;
  using ConstVec = Eigen::Map<const VecX<Scalar>>;

  Params() = default;
  explicit Params(Dims d) : layout_(d), data_(VecX<Scalar>::Zero(layout_.total())) {}

  const ParamLayout& layout() const { return layout_; }
  const Dims& dims() const { return layout_.dims; }

  /// The whole flat vector theta.
  VecX<Scalar>& flat() { return data_; }
  const VecX<Scalar>& flat() const { return data_; }

  /// A group as a matrix (rows x cols) view, b as 1 x 1.
  Mat group(Group g) {
    return Mat(data_.data() + layout_.offset(g), layout_.rows(g), layout_.cols(g));
  }
  ConstMat group(Group g) const {
    return ConstMat(data_.data() + layout_.offset(g), layout_.rows(g), layout_.cols(g));
  }
  Vec segment(Group g) { return Vec(data_.data() + layout_.offset(g), layout_.size(g)); }
  ConstVec segment(Group g) const {
    return ConstVec(data_.data() + layout_.offset(g), layout_.size(g));
  }

  Mat M() { return group(Group::kM); }  ///< N x R, left vectors m_r
  ConstMat M() const { return group(Group::kM); }
  Mat n() { return group(Group::kN); }  ///< N x R, right vectors n_r
  ConstMat n() const { return group(Group::kN); }
  Mat B() { return group(Group::kB); }  ///< N x d_in, input weights
  ConstMat B() const { return group(Group::kB); }
  Vec w() { return segment(Group::kW); }  ///< N, readout weights
  ConstVec w() const { return segment(Group::kW); }
  Scalar& b() { return data_[layout_.offset(Group::kBias)]; }  ///< readout bias
  Scalar b() const { return data_[layout_.offset(Group::kBias)]; }

  void set_zero() { data_.setZero(); }

  template <typename Other>
  Params<Other> cast() const {
    Params<Other> out(dims());
    out.flat() = data_.template cast<Other>();
    return out;
  }

 private:
  ParamLayout layout_;
  VecX<Scalar> data_;
};

/// Which groups are trained (training.train_M ...); a frozen group keeps its initial value.
struct GroupMask {
  std::array<bool, 5> trained = {true, true, true, true, true};
  bool operator[](Group g) const { return trained[static_cast<int>(g)]; }
  bool& operator[](Group g) { return trained[static_cast<int>(g)]; }
};

}  // namespace lrnn
