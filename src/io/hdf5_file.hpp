// Private HDF5 helpers shared by the file formats of lrnn (checkpoints, eval files, trials
// files): atomic writes, opening a file for reading with one-line errors, typed datasets and
// attributes. Not installed.
#pragma once

#include <H5Cpp.h>

#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/fork_sandbox.hpp"
#include "lrnn/core/errors.hpp"

namespace lrnn::detail {

using Shape = std::vector<hsize_t>;

/// Throws IoError "path: what".
[[noreturn]] void io_fail(const std::string& path, const std::string& what);

/// HDF5 prints its error stack to stderr by default; lrnn reports one line instead. Called on
/// every entry because other code may re-enable printing.
inline void silence_hdf5() { H5::Exception::dontPrint(); }

/// " (detail)" from an HDF5 exception, or "".
std::string h5_detail(const H5::Exception& e);

/// "3x4" (or "scalar").
std::string shape_text(const Shape& shape);

template <typename Scalar>
const H5::PredType& native_type() {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>);
  if constexpr (std::is_same_v<Scalar, float>) {
    return H5::PredType::NATIVE_FLOAT;
  } else {
    return H5::PredType::NATIVE_DOUBLE;
  }
}

/// File access with strong close: close() is final, so no handle outlives it.
H5::FileAccPropList strong_close_fapl();

/// Writes the HDF5 file `path` atomically. `fill(file)` writes the datasets and attributes into a
/// new file that HDF5 holds in memory (and must not close it); its image is then written with
/// plain POSIX calls to a temporary file in the same directory, fsync'ed, and renamed over `path`
/// (and the directory fsync'ed). HDF5 itself never writes to the disk: a full disk or a vanished
/// directory is an errno of our own write(), reported as such, and never leaves HDF5 with a file
/// it cannot close (which crashed the process at exit). On any failure the temporary file is
/// removed, a previous file at `path` is left intact, and IoError names `path`, what failed and
/// the system's reason. Memory: the image, about the size of the file, is held twice briefly.
void write_atomically(const std::string& path, const std::function<void(H5::H5File&)>& fill);

/// Opens an existing HDF5 file read-only. Throws InputError (the user's file: exit code 2) or
/// IoError, per `user_input`, naming the file: missing, a directory, unreadable, not HDF5,
/// truncated or corrupt.
H5::H5File open_hdf5_for_reading(const std::string& path, bool user_input);

void write_string_attr(const H5::H5Object& obj, const char* name, const std::string& value);
void write_double_attr(const H5::H5Object& obj, const char* name, double value);
void write_int_attr(const H5::H5Object& obj, const char* name, std::int64_t value);

/// A dataset of `shape` filled from row-major `data` (prod(shape) values of Scalar, or int).
/// With `compress`, large datasets are chunked along the first dimension and deflated (zlib
/// level 4, with shuffle): transparent to h5py and MATLAB.
template <typename T>
void write_dataset(const H5::Group& parent, const std::string& name, const Shape& shape,
                   const T* data, bool compress = false);

}  // namespace lrnn::detail
