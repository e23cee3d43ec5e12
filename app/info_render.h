#pragma once
// `dstack info` output, as text for people and JSON for scripts and provenance records.
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/backend/gpu_info.h"
#include "runtime/core/build_info.h"

namespace dstack::app {

std::string render_info_text(const BuildInfo& build, const GpuReport& gpus);
nlohmann::json render_info_json(const BuildInfo& build, const GpuReport& gpus);

}  // namespace dstack::app
