// The fork sandbox of lrnn's file readers (lrnn/core/read_isolation.hpp): a read runs first in a
// forked child, and the file is refused if the child crashes, fails or loops. It knows nothing of
// HDF5; the readers in io/ call it. Its switch lives here, beside it, so that CommSession (core)
// can turn it off after MPI_Init without reaching up into io/.
#include "core/fork_sandbox.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <string>

#include "lrnn/core/errors.hpp"
#include "lrnn/core/read_isolation.hpp"

namespace lrnn::detail {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::atomic<bool> g_read_isolation{true};

// Exit codes of the probing child.
constexpr int kChildRead = 0;     // read() returned
constexpr int kChildRefused = 3;  // read() threw: its kind and message went through the pipe

// What the child sends back, so that the parent throws the same type with the same message.
enum class ErrorKind : char { kError, kConfig, kIo, kInput, kNumerical, kNoMemory, kOther };

ErrorKind kind_of(const std::exception& e) {
  if (dynamic_cast<const InputError*>(&e)) return ErrorKind::kInput;
  if (dynamic_cast<const IoError*>(&e)) return ErrorKind::kIo;
  if (dynamic_cast<const ConfigError*>(&e)) return ErrorKind::kConfig;
  if (dynamic_cast<const NumericalError*>(&e)) return ErrorKind::kNumerical;
  if (dynamic_cast<const Error*>(&e)) return ErrorKind::kError;
  if (dynamic_cast<const std::bad_alloc*>(&e)) return ErrorKind::kNoMemory;
  return ErrorKind::kOther;
}

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Appends what the pipe holds now, without blocking; false at its end.
bool drain(int fd, std::string& out) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;  // 0: end of file; other errors: nothing more to read
  }
}

// Seconds of CPU time that process `pid` (a child) has used, or a negative number.
double cpu_seconds(pid_t pid) {
  clockid_t clock{};
  timespec ts{};
  if (::clock_getcpuclockid(pid, &clock) != 0 || ::clock_gettime(clock, &ts) != 0) return -1.0;
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The CPU-time limit of a test read: LRNN_HDF5_READ_LIMIT_S if set, else 10 s plus 1 s per 2 MB
// on disk (a deflated trials file is inflated while read).
double read_limit_seconds(const std::string& path) {
  if (const char* env = std::getenv("LRNN_HDF5_READ_LIMIT_S")) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (end != env && *end == '\0' && v > 0.0) return v;
  }
  struct stat st {};
  const double mb = ::stat(path.c_str(), &st) == 0 ? static_cast<double>(st.st_size) / 1e6 : 0.0;
  return 10.0 + mb / 2.0;
}

// The wall-clock limit of a test read: LRNN_HDF5_READ_WALL_LIMIT_S if set, else 6 times the CPU
// limit (at least 60 s). A child that waits without using CPU is not looping, but it may wait for
// ever: forked while another thread of this process held a lock (inside HDF5 or malloc, from a
// Python thread while the GIL is released), it inherits the lock with no thread to release it.
double wall_limit_seconds(double cpu_limit) {
  if (const char* env = std::getenv("LRNN_HDF5_READ_WALL_LIMIT_S")) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (end != env && *end == '\0' && v > 0.0) return v;
  }
  return std::max(60.0, 6.0 * cpu_limit);
}

// InputError (the user's file) or IoError "path: what".
[[noreturn]] void refuse(const std::string& path, bool user_input, const std::string& what) {
  if (user_input) throw InputError(path + ": " + what);
  throw IoError(path + ": " + what);
}

// The child: quiet (a sanitizer's report of HDF5 goes nowhere), and leaving by _exit, so no
// atexit handler, static destructor or leak check of the parent's state runs here. Sends the
// kind and message of what `read` threw through `out`.
[[noreturn]] void run_child(int out, const std::function<void()>& read) {
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
  }
  ::fcntl(out, F_SETFL, 0);  // blocking writes: the parent reads while it waits
  int code = kChildRead;
  try {
    read();
  } catch (const std::exception& e) {
    const std::string message = std::string(1, static_cast<char>(kind_of(e))) + e.what();
    write_all(out, message.data(), message.size());
    code = kChildRefused;
  } catch (...) {
    const char message[] = {static_cast<char>(ErrorKind::kOther), '?'};
    write_all(out, message, sizeof message);
    code = kChildRefused;
  }
  ::_exit(code);
}

// A forked child running `read`, and the parent's end of its pipe.
struct Child {
  pid_t pid = -1;
  int reader = -1;
};

// Forks the child; pid -1 (after a warning) when no pipe or process can be had.
Child start_child(const std::string& path, const std::function<void()>& read) {
  // The child's error comes back through a pipe: its kind, then its message.
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    spdlog::warn("{}: no pipe for a test read in a child process ({}); reading it unguarded", path,
                 errno_text(errno));
    return {};
  }
  std::fflush(nullptr);  // the child must not write out this process's buffered output again
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    spdlog::warn("{}: cannot fork a test read ({}); reading it unguarded", path, errno_text(err));
    return {};
  }
  if (pid == 0) {
    ::close(pipe_fds[0]);
    run_child(pipe_fds[1], read);
  }
  ::close(pipe_fds[1]);
  return {pid, pipe_fds[0]};
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// How the child ended: its wait status, whether it was killed for its CPU time, and what it
// wrote; `reaped` false when it could not be waited for (the read then goes unguarded).
struct ChildEnd {
  bool reaped = false;
  int status = 0;
  bool timed_out = false;       ///< killed for its CPU time
  bool wall_timed_out = false;  ///< killed for its wall-clock time
  std::string message;
};

struct Limits {
  double cpu_s;
  double wall_s;
};

// Waits for the child's exit (its pidfd turns readable; without one, the pipe's end of file,
// which another fork() of this process could delay), reading the pipe meanwhile. A hang is told
// from a slow read by CPU time: a looping HDF5 burns it, a stalled disk or a stopped job does not.
ChildEnd wait_for_child(const std::string& path, const Child& child, const Limits& limit) {
  const auto start = std::chrono::steady_clock::now();
  const Fd reader{child.reader};
  const Fd exited{static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0))};
  ChildEnd end;
  for (bool open = true;;) {
    pollfd fds[2] = {{reader.fd, POLLIN, 0}, {exited.fd, POLLIN, 0}};
    const int ready = ::poll(fds, exited.fd >= 0 ? 2 : 1, 100);
    if (ready < 0 && errno != EINTR) {
      ::kill(child.pid, SIGKILL);
      while (::waitpid(child.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      spdlog::warn("{}: cannot wait for a test read ({}); reading it unguarded", path,
                   errno_text(errno));
      return end;
    }
    if (open && (fds[0].revents & (POLLIN | POLLHUP)) != 0) open = drain(reader.fd, end.message);
    if (exited.fd >= 0 ? (fds[1].revents & POLLIN) != 0 : !open) break;
    if (cpu_seconds(child.pid) > limit.cpu_s) {
      end.timed_out = true;
      ::kill(child.pid, SIGKILL);
      break;
    }
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
        limit.wall_s) {
      end.wall_timed_out = true;
      ::kill(child.pid, SIGKILL);
      break;
    }
  }
  while (::waitpid(child.pid, &end.status, 0) < 0) {
    if (errno != EINTR) return end;  // the child was reaped elsewhere: read unguarded
  }
  drain(reader.fd, end.message);  // what the child wrote just before it exited
  end.reaped = true;
  return end;
}

// The reader's own error, as it would have thrown it here: this process never opens a file that
// the reader refuses (HDF5 leaks on some of those). Returns on a kind it does not know.
void rethrow(const std::string& path, bool user_input, const std::string& message) {
  const std::string text = message.substr(1);
  switch (static_cast<ErrorKind>(message[0])) {
    case ErrorKind::kInput:
      throw InputError(text);
    case ErrorKind::kIo:
      throw IoError(text);
    case ErrorKind::kConfig:
      throw ConfigError(text);
    case ErrorKind::kNumerical:
      throw NumericalError(text);
    case ErrorKind::kError:
      throw Error(text);
    case ErrorKind::kNoMemory:
      refuse(path, user_input, "not enough memory to read it");
    case ErrorKind::kOther:
      refuse(path, user_input, "cannot read it: " + text);
  }
}

// Returns when the child read the file; else throws what refuses it.
void judge(const std::string& path, bool user_input, const ChildEnd& end, const Limits& limit) {
  const auto fail = [&](const std::string& what) { refuse(path, user_input, what); };
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3g", limit.cpu_s);
  if (end.wall_timed_out) {
    char wall[32];
    std::snprintf(wall, sizeof wall, "%.3g", limit.wall_s);
    fail(std::string("a test read in a child process did not finish in ") + wall +
         " s of wall-clock time: a stalled disk, a stopped job, or a lock another thread held "
         "when the child was forked (LRNN_HDF5_READ_WALL_LIMIT_S sets the limit)");
  }
  if (end.timed_out) {
    fail(std::string("a test read in a child process used ") + seconds +
         " s of CPU time without finishing: the HDF5 library loops on this file, which is "
         "probably corrupt (LRNN_HDF5_READ_LIMIT_S sets the limit)");
  }
  if (WIFEXITED(end.status)) {
    const int code = WEXITSTATUS(end.status);
    if (code == kChildRead) return;
    if (code == kChildRefused && !end.message.empty()) rethrow(path, user_input, end.message);
    fail("the HDF5 library failed reading it (exit code " + std::to_string(code) +
         " of a test read in a child process): the file is corrupt");
  }
  if (WIFSIGNALED(end.status)) {
    const int sig = WTERMSIG(end.status);
    if (sig == SIGKILL) {
      fail("a test read in a child process was killed (SIGKILL; out of memory?)");
    }
    const char* name = ::sigabbrev_np(sig);
    fail(std::string("the HDF5 library crashed reading it (SIG") + (name ? name : "?") +
         " in a test read in a child process): the file is corrupt");
  }
  fail("a test read in a child process ended abnormally: the file is corrupt");
}

}  // namespace

void probe_in_child(const std::string& path, bool user_input, const std::function<void()>& read) {
  if (!g_read_isolation.load(std::memory_order_relaxed)) return;
  const double cpu = read_limit_seconds(path);
  const Limits limit{cpu, wall_limit_seconds(cpu)};
  const Child child = start_child(path, read);
  if (child.pid < 0) return;
  const ChildEnd end = wait_for_child(path, child, limit);
  if (end.reaped) judge(path, user_input, end, limit);
}

}  // namespace lrnn::detail

namespace lrnn {

void set_hdf5_read_isolation(bool on) {
  detail::g_read_isolation.store(on, std::memory_order_relaxed);
}

bool hdf5_read_isolation() { return detail::g_read_isolation.load(std::memory_order_relaxed); }

}  // namespace lrnn
