// Running the real apps as child processes for end-to-end tests that need more than a shell
// (run_app in app_run.hpp): signals sent at a chosen moment, a timeout that catches a hang, how
// the process ended (exit code or signal), wall times; and scratch directories that remove
// themselves.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/files.hpp"

namespace lrnn::test {

/// How a child process ended.
struct ProcessResult {
  bool exited = false;     ///< it returned from main or called exit
  int exit_code = -1;      ///< when exited
  int signal = 0;          ///< the signal that ended it, when not exited
  bool timed_out = false;  ///< killed by wait() after the timeout: a hang
  double seconds = 0.0;    ///< wall time from start (or from the last signal) to its end
  std::string out;         ///< stdout
  std::string err;         ///< stderr

  /// "exit 2", "signal 11", "timed out": for failure messages.
  std::string how() const {
    if (timed_out) return "timed out (killed)";
    if (!exited) return "killed by signal " + std::to_string(signal);
    return "exit " + std::to_string(exit_code);
  }
};

/// A child process running `argv[0]` with arguments, stdout and stderr captured in files.
class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  /// Starts the program; `capture` is the stem of the .out and .err files (removed by wait()).
  /// With `as_user` >= 0 the child first drops to that uid and gid (tests run as root use it to
  /// meet the permissions an ordinary user meets).
  ChildProcess(const std::vector<std::string>& argv, const std::string& capture, int as_user = -1)
      : out_path_(capture + ".out"), err_path_(capture + ".err") {
    start_ = Clock::now();
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> args;
      std::vector<std::string> copy = argv;
      for (auto& a : copy) args.push_back(a.data());
      args.push_back(nullptr);
      const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(120);
      if (as_user >= 0) {
        const auto id = static_cast<uid_t>(as_user);
        if (::setgroups(0, nullptr) != 0 || ::setgid(id) != 0 || ::setuid(id) != 0) ::_exit(121);
      }
      ::execv(args[0], args.data());
      ::_exit(122);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove(out_path_);
    std::filesystem::remove(err_path_);
  }

  pid_t pid() const { return pid_; }

  /// Sends `sig`; the time wait() reports is counted from here.
  void signal(int sig) {
    start_ = Clock::now();
    ::kill(pid_, sig);
  }

  /// Whether the process is still running.
  bool running() {
    if (reaped_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      status_ = status;
      end_ = Clock::now();
      return false;
    }
    return true;
  }

  /// Waits for the end, at most `timeout_s` seconds (then kills it: timed_out).
  ProcessResult wait(double timeout_s = 120.0) {
    ProcessResult r;
    const auto deadline = start_ + std::chrono::duration<double>(timeout_s);
    while (running()) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        reaped_ = true;
        end_ = Clock::now();
        r.timed_out = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    r.seconds = std::chrono::duration<double>(end_ - start_).count();
    r.exited = WIFEXITED(status_) && !r.timed_out;
    r.exit_code = r.exited ? WEXITSTATUS(status_) : -1;
    r.signal = WIFSIGNALED(status_) ? WTERMSIG(status_) : 0;
    r.out = read_text(out_path_);
    r.err = read_text(err_path_);
    return r;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string out_path_, err_path_;
  Clock::time_point start_, end_;
};

/// Runs a program to its end (at most `timeout_s` seconds).
inline ProcessResult run_process(const std::vector<std::string>& argv, const std::string& capture,
                                 double timeout_s = 120.0, int as_user = -1) {
  ChildProcess p(argv, capture, as_user);
  return p.wait(timeout_s);
}

/// A fresh directory under the temporary directory, named after the test and the process (ctest
/// runs the cases of one binary in parallel processes), removed with everything in it at the end.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("lrnn_e2e_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// The lines of `text` (a last line without '\n' counts too).
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::string::size_type start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

}  // namespace lrnn::test
