// Runs one of the real apps in a shell and captures its exit code and output, for end-to-end
// tests.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/files.hpp"

namespace lrnn::test {

struct AppRun {
  int exit_code = -1;  ///< the exit status, or -1 when killed by a signal
  std::string output;  ///< stdout and stderr
  std::string out;     ///< stdout only
  std::string err;     ///< stderr only
};

/// Runs `exe args` through the shell. ctest runs tests in parallel processes, so the captured
/// output goes to files named by process and call, removed afterwards.
inline AppRun run_app(const std::string& exe, const std::string& args) {
  static int calls = 0;
  const std::string stem =
      (std::filesystem::temp_directory_path() /
       ("lrnn_app_" + std::to_string(::getpid()) + "_" + std::to_string(++calls)))
          .string();
  const std::string out = stem + ".out", err = stem + ".err";
  const std::string cmd = exe + " " + args + " > " + out + " 2> " + err;
  const int status = std::system(cmd.c_str());
  AppRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(out);
  r.err = slurp(err);
  r.output = r.out + r.err;
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

}  // namespace lrnn::test
