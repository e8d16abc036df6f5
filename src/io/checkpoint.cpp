#include "lrnn/io/checkpoint.hpp"

#include <H5Cpp.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <new>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "io/dataset_checksum.hpp"
#include "io/hdf5_file.hpp"
#include "lrnn/core/errors.hpp"

namespace lrnn {
namespace {

constexpr const char* kLrnnVersion = "0.1.0";

// The datasets that carry a checksum: the five groups under /params, /optimizer/m and
// /optimizer/v, /fixed/C and /optimizer/step.
constexpr std::size_t kCheckpointDatasets = 3 * kAllGroups.size() + 2;

template <typename Scalar>
using RowMajorMat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

using detail::h5_detail;
using detail::native_type;
using detail::Shape;
using detail::shape_text;
using detail::silence_hdf5;
using detail::write_string_attr;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  detail::io_fail(path, what);
}

hsize_t to_hsize(Index n) { return static_cast<hsize_t>(n); }

std::string class_text(H5T_class_t cls) {
  switch (cls) {
    case H5T_INTEGER:
      return "integer";
    case H5T_FLOAT:
      return "float";
    case H5T_STRING:
      return "string";
    default:
      return "of class " + std::to_string(static_cast<int>(cls));
  }
}

// h5py shows w as a vector and b as a plain number, so those are stored 1-D and scalar rather than
// as N x 1 and 1 x 1 matrices.
Shape file_shape(const Dims& dims, Group g) {
  switch (g) {
    case Group::kM:
    case Group::kN:
      return {to_hsize(dims.N), to_hsize(dims.R)};
    case Group::kB:
      return {to_hsize(dims.N), to_hsize(dims.d_in)};
    case Group::kW:
      return {to_hsize(dims.N)};
    case Group::kBias:
      return {};
  }
  return {};
}

H5::DataSpace make_space(const Shape& shape) {
  if (shape.empty()) return H5::DataSpace(H5S_SCALAR);
  return H5::DataSpace(static_cast<int>(shape.size()), shape.data());
}

std::string precision_text(Precision p) {
  return p == Precision::kFloat64 ? "float64" : p == Precision::kBf16 ? "bf16" : "float32";
}

// ---------------------------------------------------------------------------------------------
// Writing

void write_scalar_attr(const H5::H5File& file, const char* name, const H5::PredType& type,
                       const void* value) {
  H5::Attribute attr = file.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  attr.write(type, value);
}

// `data` is a column-major rows x cols block; the file gets it row-major so element [i, j] is
// unit i, column j in h5py.
template <typename Scalar>
void write_block(const H5::Group& parent, const std::string& name, const Shape& shape,
                 const Scalar* data, Index rows, Index cols) {
  H5::DataSet ds = parent.createDataSet(name, native_type<Scalar>(), make_space(shape));
  if (rows * cols == 0) {
    detail::write_checksum(ds, nullptr, 0);
    return;
  }
  const RowMajorMat<Scalar> row_major = Eigen::Map<const MatX<Scalar>>(data, rows, cols);
  ds.write(row_major.data(), native_type<Scalar>());
  detail::write_checksum(ds, row_major.data(), sizeof(Scalar) * row_major.size());
}

template <typename Scalar>
void write_groups(const H5::Group& parent, const ParamLayout& layout, const VecX<Scalar>& flat) {
  for (Group g : kAllGroups) {
    write_block(parent, std::string(group_name(g)), file_shape(layout.dims, g),
                flat.data() + layout.offset(g), layout.rows(g), layout.cols(g));
  }
}

template <typename Scalar>
void write_hdf5(H5::H5File& file, const Network<Scalar>& net, const AdamState<Scalar>& adam,
                const CheckpointMeta& meta) {
  const Dims& dims = net.dims();
  const ParamLayout& layout = net.theta.layout();

  const int format_version = kCheckpointFormatVersion;
  const std::int64_t n = dims.N, r = dims.R, d_in = dims.d_in;
  write_scalar_attr(file, "format_version", H5::PredType::NATIVE_INT, &format_version);
  write_scalar_attr(file, "g", H5::PredType::NATIVE_DOUBLE, &net.g);
  write_scalar_attr(file, "tau", H5::PredType::NATIVE_DOUBLE, &net.tau);
  write_scalar_attr(file, "N", H5::PredType::NATIVE_INT64, &n);
  write_scalar_attr(file, "R", H5::PredType::NATIVE_INT64, &r);
  write_scalar_attr(file, "d_in", H5::PredType::NATIVE_INT64, &d_in);
  write_scalar_attr(file, "step", H5::PredType::NATIVE_INT64, &meta.step);
  write_scalar_attr(file, "seed", H5::PredType::NATIVE_UINT64, &meta.seed);
  write_string_attr(file, "precision", precision_text(meta.precision));
  write_string_attr(file, "config_yaml", meta.config_yaml);
  write_scalar_attr(file, "best_val_loss", H5::PredType::NATIVE_DOUBLE, &meta.best_val_loss);
  write_scalar_attr(file, "best_step", H5::PredType::NATIVE_INT64, &meta.best_step);
  write_scalar_attr(file, "nan_skips", H5::PredType::NATIVE_INT64, &meta.nan_skips);
  write_scalar_attr(file, "nan_skips_in_a_row", H5::PredType::NATIVE_INT64,
                    &meta.nan_skips_in_a_row);
  write_scalar_attr(file, "stop_streak", H5::PredType::NATIVE_INT64, &meta.stop_streak);
  write_string_attr(file, "lrnn_version", kLrnnVersion);

  {
    H5::Group params = file.createGroup("params");
    write_groups(params, layout, net.theta.flat());
  }
  {
    H5::Group fixed = file.createGroup("fixed");
    write_block(fixed, "C", {to_hsize(dims.N), to_hsize(dims.N)}, net.C.data(), dims.N, dims.N);
  }
  {
    H5::Group optimizer = file.createGroup("optimizer");
    H5::Group m = optimizer.createGroup("m");
    write_groups(m, layout, adam.m);
    H5::Group v = optimizer.createGroup("v");
    write_groups(v, layout, adam.v);
    H5::DataSet step =
        optimizer.createDataSet("step", H5::PredType::NATIVE_INT64, H5::DataSpace(H5S_SCALAR));
    step.write(&adam.step, H5::PredType::NATIVE_INT64);
    detail::write_checksum(step, &adam.step, sizeof adam.step);
  }
}

template <typename Scalar>
void check_saveable(const std::string& path, const Network<Scalar>& net,
                    const AdamState<Scalar>& adam) {
  const Dims& dims = net.dims();
  const Index total = net.theta.layout().total();
  if (dims.N < 1 || dims.R < 0 || dims.d_in < 0) {
    fail(path, "cannot save a network with N = " + std::to_string(dims.N) +
                   ", R = " + std::to_string(dims.R) + ", d_in = " + std::to_string(dims.d_in));
  }
  if (net.theta.flat().size() != total) fail(path, "cannot save: parameter vector has wrong size");
  if (net.C.rows() != dims.N || net.C.cols() != dims.N) {
    fail(path, "cannot save: C is " + std::to_string(net.C.rows()) + "x" +
                   std::to_string(net.C.cols()) + ", expected " + std::to_string(dims.N) + "x" +
                   std::to_string(dims.N));
  }
  if (adam.m.size() != total || adam.v.size() != total) {
    fail(path, "cannot save: Adam moments have " + std::to_string(adam.m.size()) + " and " +
                   std::to_string(adam.v.size()) + " entries, expected " + std::to_string(total));
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

H5::H5File open_for_reading(const std::string& path) {
  return detail::open_hdf5_for_reading(path, /*user_input=*/false);
}

H5::Attribute open_attr(const std::string& path, const H5::H5File& file, const std::string& name,
                        H5T_class_t expected) {
  if (!file.attrExists(name)) fail(path, "attribute " + name + " is missing");
  H5::Attribute attr = file.openAttribute(name);
  const H5T_class_t cls = attr.getTypeClass();
  if (cls != expected) {
    fail(path,
         "attribute " + name + " is " + class_text(cls) + ", expected " + class_text(expected));
  }
  const hssize_t count = attr.getSpace().getSimpleExtentNpoints();
  if (count != 1) {
    fail(path, "attribute " + name + " holds " + std::to_string(count) + " values, expected one");
  }
  return attr;
}

std::int64_t read_int_attr(const std::string& path, const H5::H5File& file,
                           const std::string& name) {
  std::int64_t value = 0;
  open_attr(path, file, name, H5T_INTEGER).read(H5::PredType::NATIVE_INT64, &value);
  return value;
}

std::uint64_t read_uint_attr(const std::string& path, const H5::H5File& file,
                             const std::string& name) {
  std::uint64_t value = 0;
  open_attr(path, file, name, H5T_INTEGER).read(H5::PredType::NATIVE_UINT64, &value);
  return value;
}

double read_double_attr(const std::string& path, const H5::H5File& file, const std::string& name) {
  double value = 0.0;
  open_attr(path, file, name, H5T_FLOAT).read(H5::PredType::NATIVE_DOUBLE, &value);
  return value;
}

std::string read_string_attr(const std::string& path, const H5::H5File& file,
                             const std::string& name) {
  H5::Attribute attr = open_attr(path, file, name, H5T_STRING);
  // Reading through the attribute's own string type accepts both fixed and variable length, so
  // files written by h5py or MATLAB load too.
  std::string value;
  attr.read(attr.getStrType(), value);
  return value;
}

CheckpointInfo read_info(const std::string& path, const H5::H5File& file) {
  CheckpointInfo info;
  const std::int64_t version = read_int_attr(path, file, "format_version");
  if (version > kCheckpointFormatVersion) {
    fail(path, "format_version " + std::to_string(version) + " is newer than this lrnn supports (" +
                   std::to_string(kCheckpointFormatVersion) + ")");
  }
  if (version < 1) fail(path, "format_version " + std::to_string(version) + " is invalid");
  info.format_version = static_cast<int>(version);

  info.dims.N = read_int_attr(path, file, "N");
  info.dims.R = read_int_attr(path, file, "R");
  info.dims.d_in = read_int_attr(path, file, "d_in");
  if (info.dims.N < 1) fail(path, "attribute N = " + std::to_string(info.dims.N) + " is not >= 1");
  if (info.dims.R < 0) fail(path, "attribute R = " + std::to_string(info.dims.R) + " is negative");
  if (info.dims.d_in < 0) {
    fail(path, "attribute d_in = " + std::to_string(info.dims.d_in) + " is negative");
  }

  info.g = read_double_attr(path, file, "g");
  info.tau = read_double_attr(path, file, "tau");
  if (!std::isfinite(info.g)) fail(path, "attribute g is not finite");
  if (!std::isfinite(info.tau) || info.tau <= 0.0) fail(path, "attribute tau is not > 0");

  CheckpointMeta& meta = info.meta;
  meta.step = read_int_attr(path, file, "step");
  meta.seed = read_uint_attr(path, file, "seed");
  const std::string precision = read_string_attr(path, file, "precision");
  if (precision == "float32") {
    meta.precision = Precision::kFloat32;
  } else if (precision == "float64") {
    meta.precision = Precision::kFloat64;
  } else if (precision == "bf16") {  // a bf16 run's parameters are float32, as stored
    meta.precision = Precision::kBf16;
  } else {
    fail(path, "attribute precision is '" + precision + "', expected float32, float64 or bf16");
  }
  meta.config_yaml = read_string_attr(path, file, "config_yaml");
  meta.best_val_loss = read_double_attr(path, file, "best_val_loss");
  meta.best_step = read_int_attr(path, file, "best_step");
  meta.nan_skips = read_int_attr(path, file, "nan_skips");
  if (file.attrExists("nan_skips_in_a_row")) {  // added after format_version 1 was first written
    meta.nan_skips_in_a_row = read_int_attr(path, file, "nan_skips_in_a_row");
  }
  if (meta.nan_skips_in_a_row < 0 || meta.nan_skips_in_a_row > meta.nan_skips) {
    fail(path, "attribute nan_skips_in_a_row is " + std::to_string(meta.nan_skips_in_a_row) +
                   ", not in [0, nan_skips = " + std::to_string(meta.nan_skips) + "]");
  }
  if (file.attrExists("stop_streak")) {  // added after format_version 1 was first written
    meta.stop_streak = read_int_attr(path, file, "stop_streak");
  }
  if (meta.stop_streak < 0) {
    fail(path, "attribute stop_streak is " + std::to_string(meta.stop_streak) + ", not >= 0");
  }
  return info;
}

H5::Group open_group(const std::string& path, const H5::Group& parent, const std::string& full,
                     const std::string& name) {
  if (!parent.nameExists(name)) fail(path, "group " + full + " is missing");
  if (parent.childObjType(name) != H5O_TYPE_GROUP) fail(path, full + " is not a group");
  return parent.openGroup(name);
}

Shape dataset_shape(const H5::DataSet& ds) {
  const H5::DataSpace space = ds.getSpace();
  if (space.getSimpleExtentType() != H5S_SIMPLE) return {};
  Shape shape(static_cast<std::size_t>(space.getSimpleExtentNdims()));
  space.getSimpleExtentDims(shape.data());
  return shape;
}

// Opens `name` under `parent` and checks it before any memory is sized from the attributes, so a
// file whose attributes disagree with its datasets fails with a message instead of a huge
// allocation.
H5::DataSet open_dataset(const std::string& path, const H5::Group& parent, const std::string& full,
                         const std::string& name, const Shape& expected, H5T_class_t cls) {
  if (!parent.nameExists(name)) fail(path, "dataset " + full + " is missing");
  if (parent.childObjType(name) != H5O_TYPE_DATASET) fail(path, full + " is not a dataset");
  H5::DataSet ds = parent.openDataSet(name);
  const H5::DataSpace space = ds.getSpace();
  if (space.getSimpleExtentType() == H5S_NULL) fail(path, "dataset " + full + " is empty");
  const Shape shape = dataset_shape(ds);
  if (shape != expected) {
    fail(path, "dataset " + full + " has shape " + shape_text(shape) + ", expected " +
                   shape_text(expected));
  }
  const H5T_class_t actual = ds.getTypeClass();
  if (actual != cls) {
    fail(path, "dataset " + full + " is " + class_text(actual) + ", expected " + class_text(cls));
  }
  return ds;
}

// The five parameter-shaped datasets under one group (/params, /optimizer/m or /optimizer/v).
struct GroupDatasets {
  std::string prefix;
  std::array<H5::DataSet, 5> sets;
};

GroupDatasets open_group_datasets(const std::string& path, const H5::Group& parent,
                                  const std::string& prefix, const Dims& dims) {
  GroupDatasets out{prefix, {}};
  for (Group g : kAllGroups) {
    const std::string name(group_name(g));
    out.sets[static_cast<std::size_t>(g)] =
        open_dataset(path, parent, prefix + "/" + name, name, file_shape(dims, g), H5T_FLOAT);
  }
  return out;
}

// Reads the row-major file block `full` into the column-major block at `data`, verifying its
// checksum (a dataset without one is added to `unverified`); the stored float type is converted
// to Scalar.
template <typename Scalar>
void read_block(const std::string& path, const H5::DataSet& ds, const std::string& full,
                Scalar* data, Index rows, Index cols, std::vector<std::string>& unverified) {
  RowMajorMat<Scalar> row_major(rows, cols);
  detail::read_verified(path, ds, full, native_type<Scalar>(), row_major.data(),
                        static_cast<std::size_t>(rows * cols), unverified);
  if (rows * cols > 0) Eigen::Map<MatX<Scalar>>(data, rows, cols) = row_major;
}

template <typename Scalar>
void read_groups(const std::string& path, const GroupDatasets& sets, const ParamLayout& layout,
                 VecX<Scalar>& flat, bool require_finite, std::vector<std::string>& unverified) {
  for (Group g : kAllGroups) {
    read_block(path, sets.sets[static_cast<std::size_t>(g)],
               sets.prefix + "/" + std::string(group_name(g)), flat.data() + layout.offset(g),
               layout.rows(g), layout.cols(g), unverified);
    if (require_finite && !flat.segment(layout.offset(g), layout.size(g)).allFinite()) {
      fail(path, sets.prefix + "/" + std::string(group_name(g)) + " holds NaN or Inf");
    }
  }
}

}  // namespace

template <typename Scalar>
void save_checkpoint(const std::string& path, const Network<Scalar>& net,
                     const AdamState<Scalar>& adam, const CheckpointMeta& meta) {
  silence_hdf5();
  check_saveable(path, net, adam);

  detail::write_atomically(path, [&](H5::H5File& file) { write_hdf5(file, net, adam, meta); });
}

namespace {

CheckpointInfo read_checkpoint_info_here(const std::string& path) {
  silence_hdf5();
  try {
    const H5::H5File file = open_for_reading(path);
    return read_info(path, file);
  } catch (const H5::Exception& e) {
    fail(path, "cannot read checkpoint attributes" + h5_detail(e));
  }
}

template <typename Scalar>
LoadedCheckpoint<Scalar> load_checkpoint_here(const std::string& path) {
  silence_hdf5();
  try {
    const H5::H5File file = open_for_reading(path);
    LoadedCheckpoint<Scalar> out;
    out.info = read_info(path, file);
    const Dims dims = out.info.dims;

    const H5::Group params_group = open_group(path, file, "/params", "params");
    const H5::Group fixed_group = open_group(path, file, "/fixed", "fixed");
    const H5::Group optimizer = open_group(path, file, "/optimizer", "optimizer");
    const H5::Group m_group = open_group(path, optimizer, "/optimizer/m", "m");
    const H5::Group v_group = open_group(path, optimizer, "/optimizer/v", "v");

    const GroupDatasets params = open_group_datasets(path, params_group, "/params", dims);
    const H5::DataSet c_set = open_dataset(path, fixed_group, "/fixed/C", "C",
                                           {to_hsize(dims.N), to_hsize(dims.N)}, H5T_FLOAT);
    const GroupDatasets m_sets = open_group_datasets(path, m_group, "/optimizer/m", dims);
    const GroupDatasets v_sets = open_group_datasets(path, v_group, "/optimizer/v", dims);
    const H5::DataSet step_set =
        open_dataset(path, optimizer, "/optimizer/step", "step", {}, H5T_INTEGER);

    try {
      out.net.theta = Params<Scalar>(dims);
      out.net.C.resize(dims.N, dims.N);
      out.adam = AdamState<Scalar>(out.net.theta.layout().total());
    } catch (const std::bad_alloc&) {
      fail(path, "network of N = " + std::to_string(dims.N) + " is too large to load");
    }
    out.net.g = out.info.g;
    out.net.tau = out.info.tau;
    const ParamLayout& layout = out.net.theta.layout();

    std::vector<std::string>& unverified = out.unverified;
    read_groups(path, params, layout, out.net.theta.flat(), /*require_finite=*/true, unverified);
    read_block(path, c_set, "/fixed/C", out.net.C.data(), dims.N, dims.N, unverified);
    if (!out.net.C.allFinite()) fail(path, "/fixed/C holds NaN or Inf");
    read_groups(path, m_sets, layout, out.adam.m, /*require_finite=*/false, unverified);
    read_groups(path, v_sets, layout, out.adam.v, /*require_finite=*/false, unverified);
    detail::read_verified(path, step_set, "/optimizer/step", H5::PredType::NATIVE_INT64,
                          &out.adam.step, 1, unverified);
    if (out.adam.step < 0) fail(path, "/optimizer/step is negative");
    return out;
  } catch (const H5::Exception& e) {
    fail(path, "cannot read checkpoint data" + h5_detail(e));
  }
}

}  // namespace

CheckpointInfo read_checkpoint_info(const std::string& path) {
  return detail::read_isolated(path, /*user_input=*/false,
                               [&] { return read_checkpoint_info_here(path); });
}

template <typename Scalar>
LoadedCheckpoint<Scalar> load_checkpoint(const std::string& path) {
  LoadedCheckpoint<Scalar> out = detail::read_isolated(
      path, /*user_input=*/false, [&] { return load_checkpoint_here<Scalar>(path); });
  // Here, not in the reader, which runs in a child process first and would log it twice.
  if (out.unverified.size() == kCheckpointDatasets) {
    spdlog::info(
        "{}: written without checksums (by an lrnn before they were added): its data "
        "are loaded unverified",
        path);
  } else if (!out.unverified.empty()) {
    spdlog::info("{}: datasets without a checksum, loaded unverified: {}", path,
                 fmt::join(out.unverified, ", "));
  }
  return out;
}

template void save_checkpoint<float>(const std::string&, const Network<float>&,
                                     const AdamState<float>&, const CheckpointMeta&);
template void save_checkpoint<double>(const std::string&, const Network<double>&,
                                      const AdamState<double>&, const CheckpointMeta&);
template LoadedCheckpoint<float> load_checkpoint<float>(const std::string&);
template LoadedCheckpoint<double> load_checkpoint<double>(const std::string&);

std::string stored_config_label(const std::string& path) { return path + ":/config_yaml"; }

Config stored_config(const CheckpointMeta& meta, const std::string& path) {
  try {
    return parse_config(meta.config_yaml, stored_config_label(path));
  } catch (const ConfigError& e) {
    throw InputError(std::string("the config stored in the checkpoint does not load: ") + e.what());
  }
}

}  // namespace lrnn
