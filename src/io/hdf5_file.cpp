#include "io/hdf5_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace lrnn::detail {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category());
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    // Some file systems cannot sync a directory; the rename itself has then still happened.
    if ((flags & O_DIRECTORY) != 0 && err == EINVAL) return;
    throw std::system_error(err, std::generic_category());
  }
  if (::close(fd) != 0) throw std::system_error(errno, std::generic_category());
}

template <typename T>
const H5::PredType& mem_type() {
  if constexpr (std::is_same_v<T, int>) {
    return H5::PredType::NATIVE_INT;
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return H5::PredType::NATIVE_INT64;
  } else {
    return native_type<T>();
  }
}

}  // namespace

void io_fail(const std::string& path, const std::string& what) {
  throw IoError(path + ": " + what);
}

std::string h5_detail(const H5::Exception& e) {
  std::string detail = e.getDetailMsg();
  return detail.empty() ? std::string() : " (" + detail + ")";
}

std::string shape_text(const Shape& shape) {
  if (shape.empty()) return "scalar";
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += 'x';
    text += std::to_string(shape[i]);
  }
  return text;
}

H5::FileAccPropList strong_close_fapl() {
  // With the default (weak) close degree a leaked dataset handle keeps the file open after
  // close(); strong closing makes close() final, which the fsync and rename below rely on.
  H5::FileAccPropList fapl;
  fapl.setFcloseDegree(H5F_CLOSE_STRONG);
  return fapl;
}

void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write) {
  silence_hdf5();
  const std::filesystem::path target(path);
  const std::filesystem::path dir =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    io_fail(path, "cannot write: directory " + dir.string() + " does not exist");
  }

  // Same directory as the target so rename() stays within one file system and is atomic.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const auto discard_tmp = [&tmp] { std::remove(tmp.c_str()); };
  try {
    write(tmp);
  } catch (const H5::Exception& e) {
    discard_tmp();
    io_fail(path, "cannot write temporary file " + tmp + h5_detail(e));
  } catch (...) {
    discard_tmp();
    throw;
  }
  try {
    fsync_path(tmp, O_RDONLY);
  } catch (const std::system_error& e) {
    discard_tmp();
    io_fail(path, "cannot fsync temporary file " + tmp + ": " + errno_text(e.code().value()));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    discard_tmp();
    io_fail(path, "cannot rename " + tmp + " over it: " + errno_text(err));
  }
  // Without this the rename may be lost on power failure even though the data blocks are on disk.
  try {
    fsync_path(dir.string(), O_RDONLY | O_DIRECTORY);
  } catch (const std::system_error& e) {
    io_fail(path, "written, but cannot fsync directory " + dir.string() + ": " +
                      errno_text(e.code().value()));
  }
}

H5::H5File open_hdf5_for_reading(const std::string& path, bool user_input) {
  silence_hdf5();
  const auto fail = [&](const std::string& what) -> void {
    if (user_input) throw InputError(path + ": " + what);
    io_fail(path, what);
  };
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) fail("no such file");
  if (std::filesystem::is_directory(status)) fail("is a directory, not an HDF5 file");
  if (::access(path.c_str(), R_OK) != 0) fail("cannot read: " + errno_text(errno));
  bool is_hdf5 = false;
  try {
    is_hdf5 = H5::H5File::isHdf5(path);
  } catch (const H5::Exception&) {
    is_hdf5 = false;
  }
  if (!is_hdf5) fail("not an HDF5 file");
  try {
    return H5::H5File(path, H5F_ACC_RDONLY, H5::FileCreatPropList::DEFAULT, strong_close_fapl());
  } catch (const H5::Exception&) {
    fail("cannot open HDF5 file: truncated or corrupt");
  }
  throw IoError(path + ": unreachable");  // fail() always throws
}

// Variable-length UTF-8 so h5py returns str (fixed-length strings come back as bytes) and long
// texts are not bound by the 64 KiB limit on attributes stored in the object header.
void write_string_attr(const H5::H5Object& obj, const char* name, const std::string& value) {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  H5::Attribute attr = obj.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  attr.write(type, value);
}

void write_double_attr(const H5::H5Object& obj, const char* name, double value) {
  H5::Attribute attr =
      obj.createAttribute(name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace(H5S_SCALAR));
  attr.write(H5::PredType::NATIVE_DOUBLE, &value);
}

void write_int_attr(const H5::H5Object& obj, const char* name, std::int64_t value) {
  H5::Attribute attr =
      obj.createAttribute(name, H5::PredType::NATIVE_INT64, H5::DataSpace(H5S_SCALAR));
  attr.write(H5::PredType::NATIVE_INT64, &value);
}

template <typename T>
void write_dataset(const H5::Group& parent, const std::string& name, const Shape& shape,
                   const T* data, bool compress) {
  const H5::DataSpace space = shape.empty()
                                  ? H5::DataSpace(H5S_SCALAR)
                                  : H5::DataSpace(static_cast<int>(shape.size()), shape.data());
  hsize_t count = 1;
  for (hsize_t d : shape) count *= d;
  H5::DSetCreatPropList props;
  if (compress && !shape.empty() && count >= 4096) {
    // Chunks of whole rows along the first dimension, about 1 MiB each.
    Shape chunk = shape;
    const hsize_t row = count / std::max<hsize_t>(1, shape[0]);
    chunk[0] = std::clamp<hsize_t>((1u << 20) / std::max<hsize_t>(1, row * sizeof(T)), 1,
                                   std::max<hsize_t>(1, shape[0]));
    props.setChunk(static_cast<int>(chunk.size()), chunk.data());
    props.setShuffle();
    props.setDeflate(4);
  }
  H5::DataSet ds = parent.createDataSet(name, mem_type<T>(), space, props);
  if (count > 0) ds.write(data, mem_type<T>());
}

template void write_dataset<float>(const H5::Group&, const std::string&, const Shape&, const float*,
                                   bool);
template void write_dataset<double>(const H5::Group&, const std::string&, const Shape&,
                                    const double*, bool);
template void write_dataset<int>(const H5::Group&, const std::string&, const Shape&, const int*,
                                 bool);
template void write_dataset<std::int64_t>(const H5::Group&, const std::string&, const Shape&,
                                          const std::int64_t*, bool);

}  // namespace lrnn::detail
