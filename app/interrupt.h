#pragma once
// Ctrl-C (SIGINT) or SIGTERM during a long command: the process stops at once and says what it had
// finished. Its outputs are written whole or not at all (runtime/core/atomic_file.h), so what a
// stopped run leaves are complete files and `.partial` ones, never a truncated file under its name.
#include <string>

namespace dstack::app {

// From now on an interrupt prints "dstack: interrupted: <task>: <progress>" to stderr and exits with
// 128 + the signal's number.
void report_interrupts(const std::string& task);
// What is finished so far, for that message (e.g. "finished dstack, temporal; triton was running").
void set_interrupt_progress(const std::string& progress);

}  // namespace dstack::app
