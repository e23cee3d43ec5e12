#pragma once
// A diagnostic kernel that records which SM ran each of its blocks (the %smid register). It is how
// gpu-check proves that a partition of S SMs really runs on S distinct SMs.
#include <cuda_runtime_api.h>

#include <vector>

namespace dstack::cuda {

// Launches `blocks` blocks writing their SM ids to out[0..blocks); asynchronous. spin_us = 0 makes
// it an almost empty kernel (used to time dispatch).
void launch_record_sm_ids(unsigned* out, int blocks, int spin_us, cudaStream_t stream);

// Launches `blocks` blocks on `stream`, each spinning ~spin_us so the hardware spreads them over
// every SM it may use, and returns the SM id of every block (synchronizes the stream).
std::vector<unsigned> record_sm_ids(cudaStream_t stream, int blocks, int spin_us);

// Distinct SM ids, sorted.
std::vector<unsigned> distinct_sm_ids(const std::vector<unsigned>& ids);

}  // namespace dstack::cuda
