#pragma once
// The ONNX protobuf classes, in one place. Debian builds libonnx with ONNX_NAMESPACE=onnx and
// ONNX_ML=1 (its CMake package exports both as compile definitions); the headers must see the same
// values or the class names (and so the symbols) differ and linking fails.
#ifndef ONNX_NAMESPACE
#error "ONNX_NAMESPACE must be defined (to onnx, as Debian's libonnx was built): link dstack_onnx's onnx target"
#endif
#include <onnx/onnx_pb.h>
