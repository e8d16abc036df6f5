// Fuzz target of the checkpoint reader: the input is the bytes of a file, read with
// read_checkpoint_info and load_checkpoint<double>. Each must return or throw lrnn::Error; what it
// returns must be consistent (shapes from the attributes, finite parameters), and no HDF5 object
// may stay open afterwards. Anything else (another exception, a crash or UB in lrnn or in HDF5, a
// huge allocation, a leak, a hang) is a finding.
#include <H5Cpp.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "lrnn/core/errors.hpp"
#include "lrnn/core/read_isolation.hpp"
#include "lrnn/io/checkpoint.hpp"

namespace {

// A new file for every input, in memory when /dev/shm exists. HDF5 recognises a file it already
// has open by device and inode, so reusing one path could mix the state of an earlier input into
// this one and make a finding depend on the inputs before it.
std::string next_input_path() {
  static const std::string stem = [] {
    namespace fs = std::filesystem;
    const fs::path dir =
        fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    return (dir / ("lrnn-fuzz-checkpoint-" + std::to_string(::getpid()) + "-")).string();
  }();
  static std::uint64_t count = 0;
  return stem + std::to_string(count++) + ".h5";
}

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_checkpoint: %s\n", what);
  std::abort();
}

void read(const std::string& path) {
  try {
    (void)lrnn::read_checkpoint_info(path);
  } catch (const lrnn::Error&) {
  }
  try {
    const auto loaded = lrnn::load_checkpoint<double>(path);
    const lrnn::Dims& d = loaded.info.dims;
    const lrnn::Index total = loaded.net.theta.layout().total();
    if (loaded.net.C.rows() != d.N || loaded.net.C.cols() != d.N) finding("C has the wrong shape");
    if (loaded.net.theta.flat().size() != total) finding("theta has the wrong size");
    if (loaded.adam.m.size() != total || loaded.adam.v.size() != total) {
      finding("the Adam moments have the wrong size");
    }
    if (!loaded.net.theta.flat().allFinite() || !loaded.net.C.allFinite()) {
      finding("a loaded parameter is not finite");
    }
  } catch (const lrnn::Error&) {
  }
}

}  // namespace

// The readers first try each file in a child process (lrnn/core/read_isolation.hpp); the fuzzer
// must see the crash in its own process, with coverage, so it reads unguarded.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  lrnn::set_hdf5_read_isolation(false);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = next_input_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) finding("cannot write the input file");
  }
  read(path);
  std::remove(path.c_str());
  // Datatypes are left out: HDF5 counts its predefined types, which the C++ API keeps open.
  constexpr unsigned kObjects = H5F_OBJ_FILE | H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_ATTR;
  if (H5Fget_obj_count(H5F_OBJ_ALL, kObjects) != 0) finding("an HDF5 object was left open");
  return 0;
}
