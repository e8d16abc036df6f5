#include "io/dataset_checksum.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "io/hdf5_file.hpp"

namespace lrnn::detail {

std::uint32_t crc32_of(const void* data, std::size_t bytes) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  if (bytes > 0) crc = ::crc32_z(crc, static_cast<const Bytef*>(data), bytes);
  return static_cast<std::uint32_t>(crc);
}

void write_checksum(const H5::DataSet& ds, const void* data, std::size_t bytes) {
  const std::uint32_t crc = crc32_of(data, bytes);
  H5::Attribute attr =
      ds.createAttribute(kChecksumAttr, H5::PredType::NATIVE_UINT32, H5::DataSpace(H5S_SCALAR));
  attr.write(H5::PredType::NATIVE_UINT32, &crc);
}

namespace {

std::string hex(std::uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "%08llx", static_cast<unsigned long long>(value));
  return text;
}

void verify(const std::string& path, const H5::DataSet& ds, const std::string& full,
            const void* data, std::size_t bytes, std::vector<std::string>& unverified) {
  if (!ds.attrExists(kChecksumAttr)) {
    unverified.push_back(full);
    return;
  }
  const H5::Attribute attr = ds.openAttribute(kChecksumAttr);
  if (attr.getTypeClass() != H5T_INTEGER || attr.getSpace().getSimpleExtentNpoints() != 1) {
    io_fail(path, "dataset " + full + ": attribute " + kChecksumAttr + " is not one integer");
  }
  std::uint64_t stored = 0;
  attr.read(H5::PredType::NATIVE_UINT64, &stored);
  const std::uint32_t computed = crc32_of(data, bytes);
  if (stored != computed) {
    io_fail(path, "dataset " + full + " fails its checksum (" + kChecksumAttr + " stored " +
                      hex(stored) + ", computed " + hex(computed) +
                      "): the file is corrupt, or was changed by another program");
  }
}

}  // namespace

void read_verified(const std::string& path, const H5::DataSet& ds, const std::string& full,
                   const H5::DataType& mem_type, void* out, std::size_t count,
                   std::vector<std::string>& unverified) {
  const H5::DataType stored = ds.getDataType();
  const std::size_t stored_size = stored.getSize();
  const std::size_t mem_size = mem_type.getSize();
  // One buffer, read in the stored type (no conversion: the bytes as in the file), then
  // converted in place, so the data are read once and the checksum covers what is used.
  std::vector<unsigned char> buffer(count * std::max(stored_size, mem_size));
  if (count > 0) ds.read(buffer.data(), stored);
  verify(path, ds, full, buffer.data(), count * stored_size, unverified);
  if (count == 0) return;
  if (!(stored == mem_type)) stored.convert(mem_type, count, buffer.data(), nullptr);
  std::memcpy(out, buffer.data(), count * mem_size);
}

}  // namespace lrnn::detail
