// Reading HDF5 files lrnn did not write itself (a --resume checkpoint, a checkpoint given to
// lrnn-eval or lrnn-inspect, a trials file) first in a child process.
//
// HDF5 1.10 trusts the structure of a file: some corrupt files make it crash (a variable-length
// string whose global heap entry is damaged gives a segfault) or loop for ever, and the global heap
// carries no checksum in any HDF5 format. lrnn's own checks run before and after the library's
// calls and cannot prevent that. So each reader first runs in a forked child. The file is refused
// with a one-line error, and this process never reads it, if the child
//  - dies from a signal, or leaves other than by returning or throwing,
//  - throws (its exception comes back through a pipe and is thrown here, same type and message),
//  - or uses more CPU time than LRNN_HDF5_READ_LIMIT_S seconds (default 10 s plus 1 s per 2 MB
//    of file). CPU time, not wall time, so a slow disk or a stopped job is not taken for a loop;
//  - or runs longer than LRNN_HDF5_READ_WALL_LIMIT_S seconds of wall-clock time (default 6 times
//    the CPU limit, at least 60 s), so that it never hangs: a child forked while another thread
//    held a lock (inside HDF5 or malloc; the Python module releases the GIL, so Python threads
//    may be there) waits for it for ever, using no CPU.
// Otherwise the read is repeated here, at the cost of one fork and a second read (about 10 ms for
// a checkpoint of N = 500).
//
// What it does not cover: a read that misbehaves without crashing (HDF5 reading past a buffer)
// does so again here, and a file replaced between the two reads is read as it is then. Inside an
// MPI job of several ranks CommSession turns it off: a fork after MPI_Init is unsafe with some
// transports (memory registered for RDMA is not mapped in the child).
#pragma once

namespace lrnn {

/// On by default. Fuzz targets turn it off: they want the crash in their own process.
void set_hdf5_read_isolation(bool on);
bool hdf5_read_isolation();

}  // namespace lrnn
