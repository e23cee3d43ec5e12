#include "app/interrupt.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>

namespace dstack::app {
namespace {

// Two message buffers: the handler reads the one `current` names, so a message being rewritten is
// never read half-written (async-signal-safe: only write(2) and _exit in the handler).
constexpr std::size_t kMessage = 4096;
char messages[2][kMessage];
std::size_t lengths[2] = {0, 0};
std::atomic<int> current{0};
std::string task_;

extern "C" void on_interrupt(int sig) {
  const int i = current.load();
  if (lengths[i] > 0) {
    const ssize_t ignored = write(STDERR_FILENO, messages[i], lengths[i]);
    (void)ignored;
  }
  _exit(128 + sig);
}

void publish(const std::string& text) {
  const int next = 1 - current.load();
  const std::size_t n = std::min(text.size(), kMessage);
  std::memcpy(messages[next], text.data(), n);
  lengths[next] = n;
  current.store(next);
}

}  // namespace

void report_interrupts(const std::string& task) {
  task_ = task;
  publish("\ndstack: interrupted: " + task_ + ": nothing finished yet (no complete output file)\n");
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}

void set_interrupt_progress(const std::string& progress) {
  publish("\ndstack: interrupted: " + task_ + ": " + progress + "\n");
}

}  // namespace dstack::app
