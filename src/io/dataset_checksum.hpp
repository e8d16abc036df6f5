// Checksums of HDF5 datasets, computed and verified by lrnn (checkpoints: every dataset of
// /params, /fixed and /optimizer). Not installed.
//
// The checksum is the CRC-32 of zlib (the polynomial of gzip, PNG and Ethernet) of the dataset's
// elements as stored: row-major, in the dataset's own type and byte order, exactly the bytes of
// h5py's `ds[()].tobytes()`, so `zlib.crc32(ds[()].tobytes()) == ds.attrs["crc32"]` checks one
// from Python with its standard library. It is kept in a uint32 attribute `crc32` on the dataset.
// Why a CRC and not HDF5's Fletcher32 filter: that filter needs chunked storage, so it cannot
// cover a scalar (/params/b, /optimizer/step) or a contiguous small array, and it would change
// the stored layout of every dataset. Why CRC-32 and not a 64-bit hash: the failure to catch is
// a flipped bit or a damaged run of bytes, which a CRC detects with certainty (every single-bit
// error, every burst of up to 32 bits) where a hash only makes it unlikely; other damage escapes
// it with probability 2^-32. zlib is already a dependency of HDF5 and runs at over 1 GB/s.
#pragma once

#include <H5Cpp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lrnn::detail {

/// Name of the checksum attribute on a dataset.
inline constexpr const char* kChecksumAttr = "crc32";

/// CRC-32 of `bytes` bytes at `data` (0 for none).
std::uint32_t crc32_of(const void* data, std::size_t bytes);

/// Writes the attribute `crc32` on `ds`: the checksum of its `bytes` bytes of elements as
/// stored, here `data` (what was just written to it in its own type).
void write_checksum(const H5::DataSet& ds, const void* data, std::size_t bytes);

/// Reads the `count` elements of `ds` as stored, checks them against the dataset's `crc32`
/// attribute and converts them to `mem_type` (row-major, `count` values of its size) at `out`.
/// A dataset without the attribute (written before lrnn stored checksums) is read unchecked and
/// its name `full` appended to `unverified`. Throws IoError "path: dataset FULL fails its
/// checksum ..." on a mismatch, and on an attribute that is not one integer.
void read_verified(const std::string& path, const H5::DataSet& ds, const std::string& full,
                   const H5::DataType& mem_type, void* out, std::size_t count,
                   std::vector<std::string>& unverified);

}  // namespace lrnn::detail
