#include "kernels/activation.h"

namespace dstack::kernels {

std::string_view activation_name(Activation a) {
  switch (a) {
    case Activation::None: return "none";
    case Activation::Relu: return "relu";
    case Activation::Relu6: return "relu6";
    case Activation::Clip: return "clip";
    case Activation::Gelu: return "gelu";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Silu: return "silu";
    case Activation::Tanh: return "tanh";
  }
  return "unknown";
}

}  // namespace dstack::kernels
