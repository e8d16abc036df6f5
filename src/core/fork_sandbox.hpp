// The fork sandbox of lrnn's readers of files it did not write (lrnn/core/read_isolation.hpp):
// run a read first in a forked child process, refuse the file if the child crashes, fails or
// loops, and only then read it here. Not installed; io/'s HDF5 readers use it.
#pragma once

#include <functional>
#include <string>

namespace lrnn::detail {

/// Runs `read()` in a forked child process when isolation is on. If it throws there, throws the
/// same lrnn::Error type with the same message here (InputError or IoError, per `user_input`, for
/// other exceptions). If the child crashes, fails another way, or uses more CPU time than the
/// limit, throws InputError or IoError naming `path`. Returns quietly when the child read the
/// file, when isolation is off, or when no process can be forked (a warning says so).
void probe_in_child(const std::string& path, bool user_input, const std::function<void()>& read);

/// `read()` tried first in the sandbox (probe_in_child), then run in this process.
template <typename F>
auto read_isolated(const std::string& path, bool user_input, F&& read) -> decltype(read()) {
  probe_in_child(path, user_input, [&] { (void)read(); });
  return read();
}

}  // namespace lrnn::detail
