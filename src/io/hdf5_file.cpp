#include "io/hdf5_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

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

void write_atomically(const std::string& path, const std::function<void(H5::H5File&)>& fill) {
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

  // The whole file is built in memory (the core driver without a backing store: the name is only
  // a label), so nothing that happens to the disk can fail inside HDF5.
  std::vector<char> image;
  try {
    H5::FileAccPropList fapl = strong_close_fapl();
    fapl.setCore(std::size_t{1} << 20, /*backing_store=*/false);
    H5::H5File file(tmp, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, fapl);
    fill(file);
    file.flush(H5F_SCOPE_LOCAL);
    const ssize_t size = H5Fget_file_image(file.getId(), nullptr, 0);
    if (size < 0) io_fail(path, "cannot build the HDF5 file: no file image");
    image.resize(static_cast<std::size_t>(size));
    if (H5Fget_file_image(file.getId(), image.data(), image.size()) != size) {
      io_fail(path, "cannot build the HDF5 file: the file image changed size");
    }
    file.close();
  } catch (const H5::Exception& e) {
    io_fail(path, "cannot build the HDF5 file" + h5_detail(e));
  }

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) io_fail(path, "cannot create temporary file " + tmp + ": " + errno_text(errno));
  const auto fail_tmp = [&](const std::string& what, int err, bool close_fd) {
    if (close_fd) ::close(fd);
    std::remove(tmp.c_str());
    io_fail(path, "cannot " + what + " temporary file " + tmp + ": " + errno_text(err));
  };
  for (std::size_t done = 0; done < image.size();) {
    const ssize_t n = ::write(fd, image.data() + done, image.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail_tmp("write", n < 0 ? errno : ENOSPC, true);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail_tmp("fsync", errno, true);
  // Network file systems may report a failed write only here.
  if (::close(fd) != 0) fail_tmp("close", errno, false);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
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
