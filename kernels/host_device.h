#pragma once
// Functions shared by CPU references and CUDA kernels (index math, epilogue math) are marked
// DSTACK_HD: __host__ __device__ under nvcc, plain inline functions elsewhere. No CUDA header here.
#ifdef __CUDACC__
#define DSTACK_HD __host__ __device__ __forceinline__
#else
#define DSTACK_HD inline
#endif
