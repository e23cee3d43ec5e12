#include "kernels/ptxas_report.h"

#include <cxxabi.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <tuple>

namespace dstack::kernels {
namespace {

constexpr std::string_view kInfo = "ptxas info";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

class LineError {
 public:
  LineError(std::string_view source, std::size_t number, std::string_view line)
      : where_(std::string(source) + ":" + std::to_string(number) + ": "), line_(line) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument(where_ + what + " (line: '" + line_ + "'); expected `ptxas -v` output as "
                                "cmake/ptxas_capture.sh keeps it");
  }

 private:
  std::string where_;
  std::string line_;
};

// A non-negative decimal number that is the whole of `s`.
bool parse_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out >= 0;
}

// "sm_90", "sm_90a", "sm_100f" -> 90, 90, 100.
bool parse_arch(std::string_view s, int& out) {
  if (!starts_with(s, "sm_")) return false;
  s.remove_prefix(3);
  std::size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  const std::string_view suffix = s.substr(digits);
  if (suffix.size() > 1 || (suffix.size() == 1 && !std::isalpha(static_cast<unsigned char>(suffix[0])))) return false;
  return parse_int(s.substr(0, digits), out);
}

// "Compiling entry function '<mangled>' for 'sm_90'"
void read_entry(std::string_view body, const LineError& err, PtxasKernelReport& r) {
  constexpr std::string_view kPrefix = "Compiling entry function '";
  body.remove_prefix(kPrefix.size());
  const std::size_t name_end = body.find('\'');
  if (name_end == std::string_view::npos || name_end == 0) err.fail("no quoted kernel name");
  r.mangled = std::string(body.substr(0, name_end));
  std::string_view rest = body.substr(name_end + 1);
  constexpr std::string_view kFor = " for '";
  if (!starts_with(rest, kFor) || rest.size() < kFor.size() + 2 || rest.back() != '\'')
    err.fail("no quoted architecture after the kernel name");
  if (!parse_arch(rest.substr(kFor.size(), rest.size() - kFor.size() - 1), r.arch))
    err.fail("architecture is not of the form 'sm_<number>'");
  r.kernel = short_kernel_name(demangle_symbol(r.mangled));
}

// "Used 40 registers, used 1 barriers, 8448 bytes smem, 472 bytes cmem[0], 12 bytes cmem[2]"
void read_used(std::string_view body, const LineError& err, PtxasKernelReport& r) {
  bool saw_registers = false;
  while (!body.empty()) {
    const std::size_t comma = body.find(',');
    const std::string_view item = trim(body.substr(0, comma));
    body = comma == std::string_view::npos ? std::string_view() : body.substr(comma + 1);
    std::string_view words = item;
    if (starts_with(words, "Used ") || starts_with(words, "used ")) words.remove_prefix(5);
    const std::size_t space = words.find(' ');
    int value = 0;
    if (space == std::string_view::npos || !parse_int(words.substr(0, space), value))
      err.fail("resource item '" + std::string(item) + "' is not '<number> <what>'");
    const std::string_view what = words.substr(space + 1);
    if (what == "registers") {
      r.registers = value;
      saw_registers = true;
    } else if (what == "barriers") {
      r.barriers = value;
    } else if (what == "bytes smem") {
      r.shared_bytes = value;
    } else if (starts_with(what, "bytes cmem[")) {
      r.constant_bytes += value;
    }
    // Anything else ("bytes cumulative stack size", textures, samplers) does not bound occupancy.
  }
  if (!saw_registers) err.fail("no '<number> registers' item");
}

// "    576 bytes stack frame, 288 bytes spill stores, 296 bytes spill loads"
void read_frame(std::string_view line, const LineError& err, PtxasKernelReport& r) {
  const struct {
    std::string_view suffix;
    int* field;
  } items[] = {{" bytes stack frame", &r.stack_frame_bytes},
               {" bytes spill stores", &r.spill_store_bytes},
               {" bytes spill loads", &r.spill_load_bytes}};
  for (const auto& it : items) {
    const std::size_t comma = line.find(',');
    const std::string_view item = trim(line.substr(0, comma));
    line = comma == std::string_view::npos ? std::string_view() : line.substr(comma + 1);
    if (item.size() <= it.suffix.size() || item.substr(item.size() - it.suffix.size()) != it.suffix ||
        !parse_int(item.substr(0, item.size() - it.suffix.size()), *it.field))
      err.fail("expected '<number>" + std::string(it.suffix) + "'");
  }
  if (!trim(line).empty()) err.fail("unexpected text after the spill loads");
}

}  // namespace

std::vector<PtxasKernelReport> parse_ptxas_report(std::string_view text, std::string_view source) {
  std::vector<PtxasKernelReport> out;
  bool current_has_used = true;    // the last entry got its "Used" line (vacuously true before any)
  std::string properties_of;       // the function named by the last "Function properties for"
  std::size_t entry_line = 0;

  auto finish_entry = [&](std::size_t at) {
    if (!current_has_used)
      throw std::invalid_argument(std::string(source) + ":" + std::to_string(entry_line) + ": entry function '" +
                                  out.back().mangled + "' for sm_" + std::to_string(out.back().arch) +
                                  " has no 'Used <n> registers' line before " +
                                  (at == 0 ? std::string("the end of the report") : "line " + std::to_string(at)));
  };

  std::size_t number = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    const LineError err(source, number, line);

    if (!starts_with(line, "ptxas")) {
      // The only unprefixed line ptxas -v writes: the frame of the function named just before.
      if (!std::isspace(static_cast<unsigned char>(line[0]))) err.fail("not a line of ptxas output");
      if (properties_of.empty()) err.fail("stack frame line without a 'Function properties for' line before it");
      if (!out.empty() && properties_of == out.back().mangled) read_frame(line, err, out.back());
      else {
        PtxasKernelReport ignored;  // a device function's frame: read to check its form, then dropped
        read_frame(line, err, ignored);
      }
      properties_of.clear();
      continue;
    }
    if (!starts_with(line, kInfo)) continue;  // "ptxas warning : ..." and the like carry no resources
    std::string_view body = line.substr(kInfo.size());
    body = trim(body);
    if (body.empty() || body.front() != ':') err.fail("no ':' after 'ptxas info'");
    body = trim(body.substr(1));

    if (starts_with(body, "Compiling entry function '")) {
      finish_entry(number);
      PtxasKernelReport r;
      read_entry(body, err, r);
      out.push_back(std::move(r));
      current_has_used = false;
      entry_line = number;
      properties_of.clear();
    } else if (starts_with(body, "Function properties for ")) {
      properties_of = std::string(trim(body.substr(std::string_view("Function properties for ").size())));
    } else if (starts_with(body, "Used ")) {
      if (out.empty() || current_has_used) err.fail("'Used' line outside an entry function");
      read_used(body, err, out.back());
      current_has_used = true;
    }
    // Other info lines ("0 bytes gmem", "Compile time = ...") say nothing about a kernel.
  }
  finish_entry(0);
  return out;
}

std::string demangle_symbol(std::string_view mangled) {
  const std::string name(mangled);
  if (!starts_with(name, "_Z")) return name;  // extern "C": the symbol is the name
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status), std::free);
  if (status != 0 || !out)
    throw std::invalid_argument("cannot demangle kernel symbol '" + name + "' (abi::__cxa_demangle status " +
                                std::to_string(status) + ")");
  return std::string(out.get());
}

std::string short_kernel_name(std::string_view demangled) {
  const std::string_view s = trim(demangled);
  // Depth of <>, () and {} nesting before each position: qualifiers, the return type and the
  // parameter list are only recognised at depth 0, so template arguments stay whole.
  auto depth_change = [](char c) {
    return (c == '<' || c == '(' || c == '{') ? 1 : (c == '>' || c == ')' || c == '}') ? -1 : 0;
  };

  // The parameter list: the last "(...)" group at depth 0 that closes the string. "(anonymous
  // namespace)" is a group too, but never the last one of a function's name.
  std::size_t name_end = s.size();
  if (!s.empty() && s.back() == ')') {
    int depth = 0;
    for (std::size_t i = s.size(); i-- > 0;) {
      depth -= depth_change(s[i]);
      if (depth == 0) {
        name_end = i;
        break;
      }
    }
  }
  const std::string_view name = trim(s.substr(0, name_end));

  // Cut at the last depth-0 space (a template's return type) and the last depth-0 "::".
  std::size_t start = 0;
  int depth = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (depth == 0 && c == ' ') start = i + 1;
    if (depth == 0 && c == ':' && i + 1 < name.size() && name[i + 1] == ':') start = i + 2;
    depth += depth_change(c);
  }
  std::string out(name.substr(start));
  if (out.empty()) throw std::invalid_argument("no kernel name in '" + std::string(demangled) + "'");
  return out;
}

std::vector<PtxasKernelReport> merge_ptxas_reports(const std::vector<std::vector<PtxasKernelReport>>& reports) {
  std::map<std::pair<std::string, int>, PtxasKernelReport> by_name;
  for (const auto& one : reports)
    for (const auto& r : one) {
      auto [it, inserted] = by_name.try_emplace({r.kernel, r.arch}, r);
      if (inserted || it->second == r) continue;
      const std::string where = "kernel '" + r.kernel + "' on sm_" + std::to_string(r.arch);
      if (it->second.mangled != r.mangled)
        throw std::invalid_argument(where + " is two different functions ('" + it->second.mangled + "' and '" +
                                    r.mangled + "'): launches name kernels by this short name, so rename one");
      throw std::invalid_argument(where + " ('" + r.mangled + "') was compiled twice with different resources (" +
                                  std::to_string(it->second.registers) + " and " + std::to_string(r.registers) +
                                  " registers): every object must compile it alike");
    }
  std::vector<PtxasKernelReport> out;
  out.reserve(by_name.size());
  for (auto& [key, r] : by_name) out.push_back(std::move(r));
  return out;
}

}  // namespace dstack::kernels
