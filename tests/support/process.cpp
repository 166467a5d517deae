#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace baton::testing {
namespace {

std::vector<char*> Argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// Waits for `pid` at most `timeout_ms`; returns the exit code, -1 on signal, -2 on timeout.
int WaitFor(pid_t pid, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() > deadline) return -2;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

int FreePort() {
  // Binds `port` (0: any) on loopback and returns the port bound, 0 if it could not.
  const auto try_bind = [](int port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    socklen_t len = sizeof a;
    const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                       getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    close(fd);
    return bound ? static_cast<int>(ntohs(a.sin_port)) : 0;
  };
  static std::mutex mutex;
  const std::lock_guard<std::mutex> lock(mutex);
  static std::set<int> given;
  int low = 32768;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  range >> low;
  constexpr int kFirst = 10000;
  if (low - kFirst >= 1000) {
    // Parallel test processes draw from the same span: start somewhere random in it.
    static std::mt19937 pick(
        static_cast<uint32_t>(getpid()) ^
        static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
    const int span = low - kFirst;
    const int start = static_cast<int>(pick() % static_cast<uint32_t>(span));
    for (int i = 0; i < span; ++i) {
      const int port = kFirst + (start + i) % span;
      if (given.count(port) == 0 && try_bind(port) == port) {
        given.insert(port);
        return port;
      }
    }
  }
  for (int i = 0; i < 100; ++i) {
    const int port = try_bind(0);
    if (port != 0 && given.insert(port).second) return port;
  }
  return 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void AppendLine(const std::string& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  out << line << "\n";
}

void SetConfigKey(const std::string& path, const std::string& key, const std::string& value) {
  std::istringstream in(ReadFile(path));
  std::string text, line;
  bool replaced = false;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    std::string name = eq == std::string::npos ? "" : line.substr(0, eq);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (name == key) {
      line = key + " = " + value;
      replaced = true;
    }
    text += line + "\n";
  }
  if (!replaced) text += key + " = " + value + "\n";
  std::ofstream(path, std::ios::trunc) << text;
}

std::string BatondPath() { return BATOND_PATH; }
std::string BatonPath() { return BATON_PATH; }

CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_ms,
                         const std::vector<std::string>& env) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return result;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    auto args = Argv(argv);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0 && std::chrono::steady_clock::now() < deadline) {
    if (poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int code = WaitFor(
      pid, std::max(0, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count())));
  if (code == -2) {
    kill(pid, SIGKILL);
    WaitFor(pid, 5000);
    code = -1;
  }
  result.exit_code = code;
  return result;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Kill9();
}

bool ChildProcess::Start(const std::vector<std::string>& argv, const std::string& log_path,
                         const std::vector<std::string>& env) {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    auto args = Argv(argv);
    execv(args[0], args.data());
    _exit(127);
  }
  pid_ = pid;
  return true;
}

int ChildProcess::Stop(int timeout_ms) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int code = WaitFor(pid_, timeout_ms);
  if (code == -2) {
    kill(pid_, SIGKILL);
    WaitFor(pid_, 5000);
    code = -1;
  }
  pid_ = -1;
  return code;
}

void ChildProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  WaitFor(pid_, 5000);
  pid_ = -1;
}

}  // namespace baton::testing
