#pragma once
// Elementwise activations, as fused epilogues and as layers of their own.
#include <cmath>
#include <string_view>

#include "kernels/host_device.h"

namespace dstack::kernels {

enum class Activation { None, Relu, Relu6, Clip, Gelu, Sigmoid, Silu, Tanh };

struct ActivationParams {
  Activation kind = Activation::None;
  float clip_min = 0.f;  // Clip only (Relu6 is Clip[0, 6])
  float clip_max = 0.f;
};

std::string_view activation_name(Activation a);

DSTACK_HD float apply_activation(const ActivationParams& p, float x) {
  switch (p.kind) {
    case Activation::None: return x;
    case Activation::Relu: return x > 0.f ? x : 0.f;
    case Activation::Relu6: return x < 0.f ? 0.f : (x > 6.f ? 6.f : x);
    case Activation::Clip: return x < p.clip_min ? p.clip_min : (x > p.clip_max ? p.clip_max : x);
    case Activation::Gelu: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));  // exact (erf) GELU
    case Activation::Sigmoid: return 1.f / (1.f + expf(-x));
    case Activation::Silu: return x / (1.f + expf(-x));
    case Activation::Tanh: return tanhf(x);
  }
  return x;
}

}  // namespace dstack::kernels
