#include "app/model_source.h"

#include <stdexcept>

#include "models/zoo.h"
#ifdef DSTACK_HAVE_ONNX
#include "models/onnx/onnx_import.h"
#endif

namespace dstack::app {

models::Model load_model(const std::string& spec, uint64_t seed, bool weights) {
  if (spec.size() > 5 && spec.ends_with(".onnx")) {
#ifdef DSTACK_HAVE_ONNX
    return models::load_onnx(spec);
#else
    throw std::invalid_argument("'" + spec + "': this build has no ONNX import (Debian's libonnx-dev and "
                                "libprotobuf-dev were not found at configure time; run `make setup`)");
#endif
  }
  return models::build_zoo_model(spec, models::BuildOptions{.seed = seed, .weights = weights});
}

}  // namespace dstack::app
