#pragma once
// The zoo's builders, one per model, each defined in the file of its family (alexnet.cc, vgg.cc,
// resnet.cc, mobilenet_v2.cc, inception_v3.cc, bert.cc). zoo.cc lists them by torchvision name;
// everything else reaches them through models/zoo.h.
#include <cstdint>

#include "models/model.h"

namespace dstack::models {

Model build_alexnet(const BuildOptions& options);
Model build_vgg16(const BuildOptions& options);
Model build_vgg19(const BuildOptions& options);
Model build_resnet18(const BuildOptions& options);
Model build_resnet50(const BuildOptions& options);
Model build_resnet152(const BuildOptions& options);
Model build_resnext50_32x4d(const BuildOptions& options);
Model build_mobilenet_v2(const BuildOptions& options);
Model build_inception_v3(const BuildOptions& options);
Model build_bert_base(const BuildOptions& options);

}  // namespace dstack::models
