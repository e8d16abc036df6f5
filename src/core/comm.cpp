#include "lrnn/core/comm.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <thread>

#ifdef LRNN_WITH_MPI
// The C API only: OpenMPI's and MPICH's mpi.h would otherwise pull in their deprecated C++
// bindings, which need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include "lrnn/core/read_isolation.hpp"
#endif

#include "lrnn/core/text_diff.hpp"

namespace lrnn {

namespace {

class SerialComm final : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  void allreduce_sum(double*, std::size_t) const override {}
  void allreduce_max(double*, std::size_t) const override {}
  void broadcast(std::string&, int) const override {}
  std::vector<std::string> gather(const std::string& text, int) const override { return {text}; }
  void barrier() const override {}
  [[noreturn]] void abort(int exit_code) const override { std::exit(exit_code); }
};

#ifdef LRNN_WITH_MPI

// MPI counts are int: longer buffers go in pieces.
constexpr std::size_t kMaxCount = static_cast<std::size_t>(INT_MAX);

class MpiComm final : public Comm {
 public:
  explicit MpiComm(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    MPI_Comm node;
    MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local_size_);
    MPI_Comm_free(&node);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }

  void allreduce_sum(double* data, std::size_t n) const override { allreduce(data, n, MPI_SUM); }
  void allreduce_max(double* data, std::size_t n) const override { allreduce(data, n, MPI_MAX); }

  void broadcast(std::string& text, int root) const override {
    unsigned long long n = text.size();
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, root, comm_);
    text.resize(static_cast<std::size_t>(n));
    for (std::size_t first = 0; first < text.size(); first += kMaxCount) {
      const std::size_t count = std::min(kMaxCount, text.size() - first);
      MPI_Bcast(text.data() + first, static_cast<int>(count), MPI_CHAR, root, comm_);
    }
  }

  std::vector<std::string> gather(const std::string& text, int root) const override {
    if (text.size() > kMaxCount) throw Error("gather: a text of more than 2^31 bytes");
    const int mine = static_cast<int>(text.size());
    std::vector<int> counts(rank_ == root ? static_cast<std::size_t>(size_) : 0);
    MPI_Gather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm_);
    std::vector<int> displs(counts.size(), 0);
    long long total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      if (total > INT_MAX) throw Error("gather: more than 2^31 bytes in all");
      displs[r] = static_cast<int>(total);
      total += counts[r];
    }
    std::string all(static_cast<std::size_t>(total), '\0');
    MPI_Gatherv(text.data(), mine, MPI_CHAR, all.data(), counts.data(), displs.data(), MPI_CHAR,
                root, comm_);
    std::vector<std::string> out;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      out.push_back(
          all.substr(static_cast<std::size_t>(displs[r]), static_cast<std::size_t>(counts[r])));
    }
    return out;
  }

  // MPI's blocking calls poll at full speed: a rank that waits long here (a sweep rank whose runs
  // are done) would take a core from the ranks still training on its node. Poll gently instead.
  void barrier() const override {
    MPI_Request request;
    MPI_Ibarrier(comm_, &request);
    for (int done = 0;;) {
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (done) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  [[noreturn]] void abort(int exit_code) const override {
    MPI_Abort(comm_, exit_code);
    std::_Exit(exit_code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  void allreduce(double* data, std::size_t n, MPI_Op op) const {
    for (std::size_t first = 0; first < n; first += kMaxCount) {
      const std::size_t count = std::min(kMaxCount, n - first);
      MPI_Allreduce(MPI_IN_PLACE, data + first, static_cast<int>(count), MPI_DOUBLE, op, comm_);
    }
  }

  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
  int local_size_ = 1;
};

#endif  // LRNN_WITH_MPI

// The first line at which two texts differ, quoted from both.
std::string first_difference(const std::string& mine, const std::string& root_text, int root) {
  const auto d = first_different_lines(mine, root_text);
  if (!d) return "";
  return "'" + d->first + "' here vs '" + d->second + "' on rank " + std::to_string(root);
}

}  // namespace

const Comm& serial_comm() {
  static const SerialComm comm;
  return comm;
}

bool built_with_mpi() {
#ifdef LRNN_WITH_MPI
  return true;
#else
  return false;
#endif
}

std::string mpi_launch_problem() {
  if (built_with_mpi()) return "";
  // SLURM_STEP_NUM_TASKS: srun's tasks of a step, set without any MPI plugin (srun -n 2 on a
  // cluster whose MpiDefault is none); the batch script of sbatch -n 2 runs once and has none.
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) {
    const char* value = std::getenv(var);
    if (value != nullptr && std::atoi(value) > 1) {
      return std::string("started as one of ") + value +
             " ranks, but this lrnn was built without MPI: each process would train alone into "
             "the same files. Rebuild with -DLRNN_WITH_MPI=ON (scripts/install_deps.sh --mpi), "
             "or start one process";
    }
  }
  return "";
}

CommSession::CommSession([[maybe_unused]] int& argc, [[maybe_unused]] char**& argv) {
#ifdef LRNN_WITH_MPI
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    owns_mpi_ = true;
  }
  world_ = std::make_unique<MpiComm>(MPI_COMM_WORLD);
  // After MPI_Init a fork is unsafe with some transports (memory registered for RDMA is not
  // mapped in the child): in a job of several ranks, no test reads in child processes.
  if (world_->size() > 1) set_hdf5_read_isolation(false);
#endif
}

CommSession::~CommSession() {
#ifdef LRNN_WITH_MPI
  world_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_mpi_ && !finalized) MPI_Finalize();
#endif
}

RankRange rank_range(long long n, int rank, int size) {
  const auto r = static_cast<long long>(rank), p = static_cast<long long>(std::max(size, 1));
  return {r * n / p, (r + 1) * n / p};
}

int exit_code_of(const std::exception& e) {
  if (const CollectiveMark* mark = collective_mark(e)) return mark->exit_code();
  if (dynamic_cast<const ConfigError*>(&e) || dynamic_cast<const InputError*>(&e)) return 2;
  return 1;
}

void run_collectively(const Comm& comm, const std::function<void()>& f) {
  if (comm.size() == 1) {
    f();
    return;
  }
  int code = 0;
  std::string message;
  try {
    f();
  } catch (const std::exception& e) {
    code = exit_code_of(e);
    message = e.what();
  }
  // The lowest failing rank r is the one with the largest size - r.
  double lowest = code != 0 ? static_cast<double>(comm.size() - comm.rank()) : 0.0;
  comm.allreduce_max(&lowest, 1);
  if (lowest == 0.0) return;
  const int root = comm.size() - static_cast<int>(lowest);
  std::string packed = std::to_string(code) + "\n" + message;
  comm.broadcast(packed, root);
  const std::size_t nl = packed.find('\n');
  const int root_code = std::atoi(packed.substr(0, nl).c_str());
  const std::string what =
      (root > 0 ? "rank " + std::to_string(root) + ": " : std::string()) + packed.substr(nl + 1);
  if (root_code == 2) throw Collective<InputError>(what, 2);
  throw Collective<Error>(what, root_code);
}

void require_same_on_all_ranks(const Comm& comm, const std::string& text, const std::string& what) {
  if (comm.size() == 1) return;
  std::string root_text = text;
  comm.broadcast(root_text, 0);
  run_collectively(comm, [&] {
    const std::string diff = first_difference(text, root_text, 0);
    if (!diff.empty()) throw InputError(what + " differs from rank 0's: " + diff);
  });
}

}  // namespace lrnn
