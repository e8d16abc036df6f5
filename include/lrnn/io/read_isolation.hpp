// Reading HDF5 files lrnn did not write itself (a --resume checkpoint, a checkpoint given to
// lrnn-eval or lrnn-inspect, a trials file) first in a child process.
//
// HDF5 1.10 trusts the structure of a file: some corrupt files make it crash (a variable-length
// string whose global heap entry is damaged gives a segfault) or loop for ever, and the global heap
// carries no checksum in any HDF5 format. lrnn's own checks run before and after the library's
// calls and cannot prevent that. So each reader first runs in a forked child; if the child dies
// from a signal, leaves by another way than returning or throwing lrnn::Error, or has not finished
// within a time limit, the file is refused with a one-line error and this process never touches
// it. Otherwise the read is repeated here, where it does what the child did (same bytes, same
// code). The cost is one fork and a second read: about 10 ms for a checkpoint of N = 500.
#pragma once

namespace lrnn {

/// On by default. Fuzz targets turn it off: they want the crash in their own process.
void set_hdf5_read_isolation(bool on);
bool hdf5_read_isolation();

}  // namespace lrnn
