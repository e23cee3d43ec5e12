// run_gpu: one DeviceModel, one run. The DeviceModel does the work; this is the one-shot front.
#include "runtime/backend/gpu_executor.h"

#include "runtime/backend/cuda/device_model.h"
#include "runtime/backend/cuda/driver_api.h"
#include "runtime/backend/cuda/resources.h"

namespace dstack {

std::vector<models::Tensor> run_gpu(const models::Graph& graph, const std::vector<models::Tensor>& inputs,
                                    const GpuRunOptions& options, GpuRunStats* stats) {
  cuda::driver();  // throws DriverUnavailable with the reason when there is no GPU
  cuda::DeviceModel model(graph, {options.precision, options.vendor ? cuda::KernelSource::Vendor
                                                                    : cuda::KernelSource::Ours});
  cuda::Stream stream;
  model.set_inputs(inputs, stream.get());  // validates the inputs; the batch comes from inputs[0]
  const int64_t batch = inputs[0].shape[0];
  if (options.cuda_graph) {
    model.enqueue_graph(batch, stream.get());  // captures (after a warm-up run) and launches once
    DSTACK_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  }
  cuda::Event start, stop;
  start.record(stream.get());
  if (options.cuda_graph)
    model.enqueue_graph(batch, stream.get());
  else
    model.enqueue(batch, stream.get());
  stop.record(stream.get());
  std::vector<models::Tensor> outputs = model.outputs(batch, stream.get());
  if (stats) {
    stats->milliseconds = stop.elapsed_ms_since(start);
    stats->vendor_nodes = model.vendor_nodes();
    stats->kernels = model.vendor_nodes() + model.our_nodes();
    stats->weight_bytes = model.weight_bytes();
    stats->activation_bytes = model.prepare(batch).activation_bytes;
    stats->precision = kernels::precision_name(options.precision);
  }
  return outputs;
}

}  // namespace dstack
