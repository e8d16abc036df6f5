// Damaging a checkpoint on disk as a failing disk or another program would, for the tests of the
// checksums (test_checkpoint, test_e2e_bad_input).
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lrnn::test {

/// Every dataset of a checkpoint that carries a checksum, in the order lrnn reads them.
inline std::vector<std::string> checkpoint_datasets() {
  std::vector<std::string> out;
  for (const char* prefix : {"/params/", "/fixed/", "/optimizer/m/", "/optimizer/v/"}) {
    if (std::string(prefix) == "/fixed/") {
      out.push_back("/fixed/C");
      continue;
    }
    for (const char* name : {"M", "n", "B", "w", "b"}) out.push_back(std::string(prefix) + name);
  }
  out.push_back("/optimizer/step");
  return out;
}

/// Where the data of `dataset` lie in the file: byte offset and size (contiguous storage).
struct DataExtent {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

inline DataExtent data_extent(const std::string& path, const std::string& dataset) {
  const H5::H5File file(path, H5F_ACC_RDONLY);
  const H5::DataSet ds = file.openDataSet(dataset);
  const haddr_t offset = H5Dget_offset(ds.getId());
  if (offset == HADDR_UNDEF) throw std::runtime_error(dataset + " has no contiguous data");
  return {offset, ds.getStorageSize()};
}

/// Flips bit `bit` (0-7) of byte `byte` of the data of `dataset`, in place, with plain file I/O
/// (HDF5 does not see it happen).
inline void flip_bit(const std::string& path, const std::string& dataset, std::uint64_t byte,
                     int bit) {
  const DataExtent extent = data_extent(path, dataset);
  if (byte >= extent.size) throw std::runtime_error(dataset + ": byte out of range");
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  const auto at = static_cast<std::streamoff>(extent.offset + byte);
  f.seekg(at);
  char c = 0;
  f.get(c);
  c = static_cast<char>(c ^ (1 << bit));
  f.seekp(at);
  f.put(c);
  if (!f) throw std::runtime_error(path + ": cannot flip a bit");
}

/// Removes the checksum attribute of `datasets` (all of them by default), as in a file written
/// before lrnn stored checksums.
inline void strip_checksums(const std::string& path,
                            const std::vector<std::string>& datasets = checkpoint_datasets()) {
  H5::H5File file(path, H5F_ACC_RDWR);
  for (const std::string& name : datasets) file.openDataSet(name).removeAttr("crc32");
}

}  // namespace lrnn::test
