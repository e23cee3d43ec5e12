// Launch geometry and index maps of the CUDA GEMM kernels (kernels/gemm.h), checked on the CPU: the
// fp32 tiled SGEMM and the fp16 / bf16 tensor-core kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/gemm.h"

namespace dstack::kernels {
namespace {

TEST(GemmLaunch, BlockAndSharedMemoryAreLegal) {
  const LaunchGeometry g = gemm_launch(100, 200, 300);
  EXPECT_EQ(g.kernel, "gemm_tiled<float>");
  EXPECT_EQ(g.block.x, unsigned(kGemmThreads));
  EXPECT_EQ(g.block.y, 1u);
  EXPECT_EQ(g.block.z, 1u);
  EXPECT_LE(g.block.count(), 1024u);
  EXPECT_EQ(g.block.x % 32, 0u);
  EXPECT_LE(g.shared_bytes, 48u * 1024u);
  EXPECT_EQ(g.shared_bytes, sizeof(float) * kGemmTileK * (kGemmTileM + 1 + kGemmTileN + 1));
}

TEST(GemmLaunch, GridCoversEveryOutputOfOddShapes) {
  const int sizes[] = {1, 2, 17, 63, 64, 65, 127, 128, 129, 300, 1000};
  for (int m : sizes)
    for (int n : sizes) {
      SCOPED_TRACE("m=" + std::to_string(m) + " n=" + std::to_string(n));
      const LaunchGeometry g = gemm_launch(m, n, 7);
      // Every row and column lies in some tile; no tile lies wholly outside.
      EXPECT_GE(int64_t(g.grid.x) * kGemmTileN, n);
      EXPECT_LT(int64_t(g.grid.x - 1) * kGemmTileN, n);
      EXPECT_GE(int64_t(g.grid.y) * kGemmTileM, m);
      EXPECT_LT(int64_t(g.grid.y - 1) * kGemmTileM, m);
      EXPECT_EQ(g.grid.z, 1u);
    }
}

TEST(GemmLaunch, BatchGoesOnGridZCappedAt65535) {
  EXPECT_EQ(batched_matmul_launch(7, 5, 5, 5).grid.z, 7u);
  EXPECT_EQ(batched_matmul_launch(65535, 5, 5, 5).grid.z, 65535u);
  EXPECT_EQ(batched_matmul_launch(100000, 5, 5, 5).grid.z, 65535u);  // the kernel grid-strides over the rest
  EXPECT_EQ(batched_matmul_launch(3, 65, 129, 1).grid.x, 3u);
  EXPECT_EQ(batched_matmul_launch(3, 65, 129, 1).grid.y, 2u);
}

TEST(GemmLaunch, ZeroSizeWorkGivesAnEmptyGrid) {
  EXPECT_EQ(gemm_launch(0, 5, 5).grid.count(), 0u);
  EXPECT_EQ(gemm_launch(5, 0, 5).grid.count(), 0u);
  EXPECT_EQ(batched_matmul_launch(0, 5, 5, 5).grid.count(), 0u);
  // k == 0 still writes C = act(bias): the grid is not empty.
  EXPECT_EQ(gemm_launch(5, 5, 0).grid.count(), 1u);
}

TEST(GemmLaunch, RejectsNegativeAndTooTallShapes) {
  EXPECT_THROW(gemm_launch(-1, 5, 5), std::invalid_argument);
  EXPECT_THROW(gemm_launch(5, -1, 5), std::invalid_argument);
  EXPECT_THROW(gemm_launch(5, 5, -1), std::invalid_argument);
  EXPECT_THROW(batched_matmul_launch(-1, 5, 5, 5), std::invalid_argument);
  EXPECT_NO_THROW(gemm_launch(int(kGemmMaxGridY) * kGemmTileM, 5, 5));
  EXPECT_THROW(gemm_launch(int(kGemmMaxGridY) * kGemmTileM + 1, 5, 5), std::invalid_argument);
}

TEST(GemmIndex, ThreadMicroTilesCoverTheCTileOnce) {
  std::vector<int> hits(kGemmTileM * kGemmTileN, 0);
  for (int tid = 0; tid < kGemmThreads; ++tid)
    for (int i = 0; i < kGemmMicro; ++i)
      for (int j = 0; j < kGemmMicro; ++j) {
        const int r = gemm_thread_row(tid, i), c = gemm_thread_col(tid, j);
        ASSERT_GE(r, 0);
        ASSERT_LT(r, kGemmTileM);
        ASSERT_GE(c, 0);
        ASSERT_LT(c, kGemmTileN);
        ++hits[size_t(r) * kGemmTileN + c];
      }
  for (int h : hits) EXPECT_EQ(h, 1);
}

TEST(GemmIndex, TileLoadsCoverEachTileOnce) {
  for (bool k_contiguous : {true, false}) {
    SCOPED_TRACE(k_contiguous ? "k-contiguous" : "n-contiguous");
    std::vector<int> hits(kGemmTileM * kGemmTileK, 0);
    for (int tid = 0; tid < kGemmThreads; ++tid)
      for (int l = 0; l < kGemmLoadsPerThread; ++l) {
        const int e = gemm_load_index(tid, l);
        ASSERT_LT(e, kGemmTileM * kGemmTileK);
        const GemmTileCoord t = k_contiguous ? gemm_load_k_contiguous(e) : gemm_load_n_contiguous(e);
        ASSERT_GE(t.mn, 0);
        ASSERT_LT(t.mn, kGemmTileM);
        ASSERT_GE(t.kk, 0);
        ASSERT_LT(t.kk, kGemmTileK);
        ++hits[size_t(t.kk) * kGemmTileM + t.mn];
      }
    for (int h : hits) EXPECT_EQ(h, 1);
  }
  // Consecutive threads read consecutive addresses: along k for A / B^T, along n for B.
  EXPECT_EQ(gemm_load_k_contiguous(gemm_load_index(1, 0)).kk, gemm_load_k_contiguous(gemm_load_index(0, 0)).kk + 1);
  EXPECT_EQ(gemm_load_n_contiguous(gemm_load_index(1, 0)).mn, gemm_load_n_contiguous(gemm_load_index(0, 0)).mn + 1);
}

TEST(GemmIndex, OffsetsMatchRowMajorLayouts) {
  const int m = 5, n = 7, k = 3;
  EXPECT_EQ(gemm_a_offset(4, 2, k), 4 * k + 2);
  EXPECT_EQ(gemm_b_offset(2, 6, n, k, false), 2 * n + 6);  // B [k, n]
  EXPECT_EQ(gemm_b_offset(2, 6, n, k, true), 6 * k + 2);   // B stored [n, k]
  EXPECT_EQ(gemm_c_offset(4, 6, n), 4 * n + 6);
  EXPECT_TRUE(gemm_in_bounds(m - 1, n - 1, m, n));
  EXPECT_FALSE(gemm_in_bounds(m, 0, m, n));
  EXPECT_FALSE(gemm_in_bounds(0, n, m, n));
  EXPECT_FALSE(gemm_in_bounds(-1, 0, m, n));
}

// Emulates the kernel's tiling on the CPU (same index maps and predicates, sequential threads) for
// an odd shape: every output gets written exactly once and every load stays in bounds.
TEST(GemmIndex, TiledEmulationMatchesNaiveProductOnOddShape) {
  for (bool bt : {false, true}) {
    const int m = 67, n = 70, k = 19;
    std::vector<float> a(size_t(m) * k), b(size_t(k) * n), c(size_t(m) * n, -1.f);
    for (size_t i = 0; i < a.size(); ++i) a[i] = float(int(i % 7) - 3);
    for (size_t i = 0; i < b.size(); ++i) b[i] = float(int(i % 5) - 2);
    const LaunchGeometry g = gemm_launch(m, n, k);
    std::vector<int> writes(c.size(), 0);
    for (unsigned by = 0; by < g.grid.y; ++by)
      for (unsigned bx = 0; bx < g.grid.x; ++bx) {
        const int64_t row0 = int64_t(by) * kGemmTileM, col0 = int64_t(bx) * kGemmTileN;
        std::vector<float> acc(size_t(kGemmThreads) * 16, 0.f);
        for (int64_t k0 = 0; k0 < k; k0 += kGemmTileK) {
          float as[kGemmTileK][kGemmTileM] = {}, bs[kGemmTileK][kGemmTileN] = {};
          for (int tid = 0; tid < kGemmThreads; ++tid)
            for (int l = 0; l < kGemmLoadsPerThread; ++l) {
              const int e = gemm_load_index(tid, l);
              const GemmTileCoord ta = gemm_load_k_contiguous(e);
              const int64_t r = row0 + ta.mn, p = k0 + ta.kk;
              if (gemm_in_bounds(r, p, m, k)) {
                const int64_t off = gemm_a_offset(r, p, k);
                ASSERT_LT(off, int64_t(a.size()));
                as[ta.kk][ta.mn] = a[size_t(off)];
              }
              const GemmTileCoord tb = bt ? gemm_load_k_contiguous(e) : gemm_load_n_contiguous(e);
              const int64_t pb = k0 + tb.kk, cb = col0 + tb.mn;
              if (gemm_in_bounds(pb, cb, k, n)) {
                const int64_t off = gemm_b_offset(pb, cb, n, k, bt);
                ASSERT_LT(off, int64_t(b.size()));
                bs[tb.kk][tb.mn] = b[size_t(off)];
              }
            }
          for (int tid = 0; tid < kGemmThreads; ++tid)
            for (int kk = 0; kk < kGemmTileK; ++kk)
              for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j)
                  acc[size_t(tid) * 16 + i * 4 + j] += as[kk][gemm_thread_row(tid, i)] * bs[kk][gemm_thread_col(tid, j)];
        }
        for (int tid = 0; tid < kGemmThreads; ++tid)
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
              const int64_t r = row0 + gemm_thread_row(tid, i), cc = col0 + gemm_thread_col(tid, j);
              if (gemm_in_bounds(r, cc, m, n)) {
                c[size_t(gemm_c_offset(r, cc, n))] = acc[size_t(tid) * 16 + i * 4 + j];
                ++writes[size_t(gemm_c_offset(r, cc, n))];
              }
            }
      }
    for (int w : writes) ASSERT_EQ(w, 1);
    // The same B values in [k, n] order when bt, i.e. B stored [n, k] means B'[p, j] = b[j * k + p].
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        float ref = 0.f;
        for (int p = 0; p < k; ++p) ref += a[size_t(i) * k + p] * (bt ? b[size_t(j) * k + p] : b[size_t(p) * n + j]);
        ASSERT_EQ(c[size_t(i) * n + j], ref) << "i=" << i << " j=" << j << (bt ? " B transposed" : "");
      }
  }
}

// ---- Tensor-core kernel (gemm_tc<T>) ----

TEST(GemmTcLaunch, NamesAndGeometryPerPrecision) {
  const LaunchGeometry f32 = gemm_launch(100, 200, 300, Precision::F32);
  EXPECT_EQ(f32.kernel, "gemm_tiled<float>");
  EXPECT_EQ(f32.block.x, unsigned(kGemmThreads));
  EXPECT_EQ(gemm_launch(100, 200, 300).kernel, "gemm_tiled<float>");  // fp32 is the default
  const LaunchGeometry h = gemm_launch(100, 200, 300, Precision::F16);
  const LaunchGeometry b = batched_matmul_launch(3, 100, 200, 300, Precision::BF16);
  EXPECT_EQ(h.kernel, "gemm_tc<__half>");
  EXPECT_EQ(b.kernel, "gemm_tc<__nv_bfloat16>");
  for (const LaunchGeometry& g : {h, b}) {
    EXPECT_EQ(g.grid.x, 4u);  // ceil(200 / 64)
    EXPECT_EQ(g.grid.y, 2u);  // ceil(100 / 64)
    EXPECT_EQ(g.block.x, unsigned(gemm_tc::kThreads));
    EXPECT_EQ(g.block.count(), 128u);
    EXPECT_EQ(g.shared_bytes, gemm_tc::kSharedBytes);
    EXPECT_LE(g.shared_bytes, 48u * 1024u) << "static shared memory limit";
  }
  EXPECT_EQ(b.grid.z, 3u);
  EXPECT_EQ(gemm_tc::kSharedBytes, 2u * (64 * 40 + 32 * 72) + 4u * 64 * 68);
  EXPECT_EQ(gemm_launch(0, 5, 5, Precision::F16).grid.count(), 0u);
  EXPECT_THROW(gemm_launch(-1, 5, 5, Precision::BF16), std::invalid_argument);
  EXPECT_THROW(gemm_launch(int(kGemmMaxGridY) * kGemmTileM + 1, 5, 5, Precision::F16), std::invalid_argument);
}

TEST(GemmTcIndex, TileLoadsCoverEachTileOnceAndCoalesce) {
  std::vector<int> a_hits(gemm_tc::kTileM * gemm_tc::kTileK, 0);
  for (int tid = 0; tid < gemm_tc::kThreads; ++tid)
    for (int l = 0; l < gemm_tc::kLoadsA; ++l) {
      const GemmTileCoord t = gemm_tc_load_a(tid, l);
      ASSERT_TRUE(t.mn >= 0 && t.mn < gemm_tc::kTileM && t.kk >= 0 && t.kk < gemm_tc::kTileK);
      ++a_hits[size_t(t.mn) * gemm_tc::kTileK + t.kk];
    }
  for (int h : a_hits) EXPECT_EQ(h, 1);
  for (bool bt : {false, true}) {
    SCOPED_TRACE(bt ? "B stored [n, k]" : "B stored [k, n]");
    std::vector<int> b_hits(gemm_tc::kTileK * gemm_tc::kTileN, 0);
    for (int tid = 0; tid < gemm_tc::kThreads; ++tid)
      for (int l = 0; l < gemm_tc::kLoadsB; ++l) {
        const GemmTileCoord t = gemm_tc_load_b(tid, l, bt);
        ASSERT_TRUE(t.mn >= 0 && t.mn < gemm_tc::kTileN && t.kk >= 0 && t.kk < gemm_tc::kTileK);
        ++b_hits[size_t(t.kk) * gemm_tc::kTileN + t.mn];
      }
    for (int h : b_hits) EXPECT_EQ(h, 1);
  }
  // Consecutive threads read consecutive addresses: along k for A and B stored [n, k], along n for B [k, n].
  EXPECT_EQ(gemm_tc_load_a(1, 0).kk, gemm_tc_load_a(0, 0).kk + 1);
  EXPECT_EQ(gemm_tc_load_b(1, 0, true).kk, gemm_tc_load_b(0, 0, true).kk + 1);
  EXPECT_EQ(gemm_tc_load_b(1, 0, false).mn, gemm_tc_load_b(0, 0, false).mn + 1);
}

TEST(GemmTcIndex, WarpFragmentsAndEpilogueCoverTheCTileOnce) {
  std::vector<int> frag_hits(gemm_tc::kTileM * gemm_tc::kTileN, 0);
  for (int w = 0; w < gemm_tc::kWarps; ++w)
    for (int i = 0; i < gemm_tc::kFragsPerWarp; ++i)
      for (int j = 0; j < gemm_tc::kFragsPerWarp; ++j) {
        const int r0 = gemm_tc_warp_row(w) + gemm_tc::kFrag * i, c0 = gemm_tc_warp_col(w) + gemm_tc::kFrag * j;
        EXPECT_EQ(r0 % gemm_tc::kFrag, 0);
        EXPECT_EQ(c0 % gemm_tc::kFrag, 0);
        for (int r = r0; r < r0 + gemm_tc::kFrag; ++r)
          for (int c = c0; c < c0 + gemm_tc::kFrag; ++c) {
            ASSERT_TRUE(r < gemm_tc::kTileM && c < gemm_tc::kTileN);
            ++frag_hits[size_t(r) * gemm_tc::kTileN + c];
          }
      }
  for (int h : frag_hits) EXPECT_EQ(h, 1);
  std::vector<int> epi_hits(gemm_tc::kTileM * gemm_tc::kTileN, 0);
  for (int tid = 0; tid < gemm_tc::kThreads; ++tid)
    for (int l = 0; l < gemm_tc::kEpiloguePerThread; ++l) {
      const GemmTileCoord t = gemm_tc_epilogue(tid, l);
      ASSERT_TRUE(t.mn >= 0 && t.mn < gemm_tc::kTileM && t.kk >= 0 && t.kk < gemm_tc::kTileN);
      ++epi_hits[size_t(t.mn) * gemm_tc::kTileN + t.kk];
    }
  for (int h : epi_hits) EXPECT_EQ(h, 1);
  // A warp stores 32 consecutive columns of one row (coalesced).
  for (int lane = 1; lane < 32; ++lane) {
    EXPECT_EQ(gemm_tc_epilogue(lane, 0).mn, gemm_tc_epilogue(0, 0).mn);
    EXPECT_EQ(gemm_tc_epilogue(lane, 0).kk, gemm_tc_epilogue(0, 0).kk + lane);
  }
}

// Emulates gemm_tc on the CPU with the kernel's own maps and predicates: shared tiles start as NaN
// so that an element no thread loads (or zero-fills) poisons the result; warps multiply their
// fragments; the epilogue goes through the C tile. Every output must be stored exactly once, by one
// thread, and equal the naive product (small integers: exact in float whatever the order).
void emulate_gemm_tc(int m, int n, int k, bool bt) {
  SCOPED_TRACE("m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) + (bt ? " B^T" : ""));
  using namespace gemm_tc;
  std::vector<float> a(size_t(m) * k), b(size_t(k) * n), bias(static_cast<size_t>(n));
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(int(i % 7) - 3);
  for (size_t i = 0; i < b.size(); ++i) b[i] = float(int(i % 5) - 2);
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = float(int(i % 3));
  const float alpha = 2.f;
  const LaunchGeometry g = gemm_launch(m, n, k, Precision::F16);
  std::vector<float> c(size_t(m) * n, -1.f);
  std::vector<int> writes(c.size(), 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  static float as[kTileM][kLdA], bs[kTileK][kLdB], cs[kTileM][kLdC];
  for (unsigned by = 0; by < g.grid.y; ++by)
    for (unsigned bx = 0; bx < g.grid.x; ++bx) {
      const int64_t row0 = int64_t(by) * kTileM, col0 = int64_t(bx) * kTileN;
      std::vector<float> acc(size_t(kTileM) * kTileN, 0.f);  // the warps' fragments, by tile position
      for (int64_t k0 = 0; k0 < k; k0 += kTileK) {
        for (auto& row : as) std::fill(std::begin(row), std::end(row), nan);
        for (auto& row : bs) std::fill(std::begin(row), std::end(row), nan);
        for (int tid = 0; tid < kThreads; ++tid) {
          for (int l = 0; l < kLoadsA; ++l) {
            const GemmTileCoord t = gemm_tc_load_a(tid, l);
            const int64_t r = row0 + t.mn, p = k0 + t.kk;
            as[t.mn][t.kk] = gemm_in_bounds(r, p, m, k) ? a.at(size_t(gemm_a_offset(r, p, k))) : 0.f;
          }
          for (int l = 0; l < kLoadsB; ++l) {
            const GemmTileCoord t = gemm_tc_load_b(tid, l, bt);
            const int64_t p = k0 + t.kk, cc = col0 + t.mn;
            bs[t.kk][t.mn] = gemm_in_bounds(p, cc, k, n) ? b.at(size_t(gemm_b_offset(p, cc, n, k, bt))) : 0.f;
          }
        }
        for (int w = 0; w < kWarps; ++w)
          for (int i = 0; i < kFragsPerWarp; ++i)
            for (int j = 0; j < kFragsPerWarp; ++j)
              for (int kk = 0; kk < kTileK; kk += kFrag) {
                const int r0 = gemm_tc_warp_row(w) + kFrag * i, c0 = gemm_tc_warp_col(w) + kFrag * j;
                for (int r = r0; r < r0 + kFrag; ++r)
                  for (int cc = c0; cc < c0 + kFrag; ++cc)
                    for (int q = kk; q < kk + kFrag; ++q) acc[size_t(r) * kTileN + cc] += as[r][q] * bs[q][cc];
              }
      }
      for (auto& row : cs) std::fill(std::begin(row), std::end(row), nan);
      for (int r = 0; r < kTileM; ++r)
        for (int cc = 0; cc < kTileN; ++cc) cs[r][cc] = acc[size_t(r) * kTileN + cc];
      for (int tid = 0; tid < kThreads; ++tid)
        for (int l = 0; l < kEpiloguePerThread; ++l) {
          const GemmTileCoord t = gemm_tc_epilogue(tid, l);
          const int64_t r = row0 + t.mn, cc = col0 + t.kk;
          if (!gemm_in_bounds(r, cc, m, n)) continue;
          const size_t off = size_t(gemm_c_offset(r, cc, n));
          c.at(off) = alpha * cs[t.mn][t.kk] + bias[size_t(cc)];
          ++writes[off];
        }
    }
  for (int w : writes) ASSERT_EQ(w, 1);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float ref = 0.f;
      for (int p = 0; p < k; ++p) ref += a[size_t(i) * k + p] * (bt ? b[size_t(j) * k + p] : b[size_t(p) * n + j]);
      ASSERT_EQ(c[size_t(i) * n + j], alpha * ref + bias[size_t(j)]) << "i=" << i << " j=" << j;
    }
}

TEST(GemmTcIndex, EmulationStoresEveryOutputOnceOnOddShapes) {
  for (int m : {1, 7, 17, 63, 65, 129})
    for (int n : {1, 7, 17, 63, 65, 129})
      for (int k : {1, 7, 17, 63, 65, 129})
        for (bool bt : {false, true}) emulate_gemm_tc(m, n, k, bt);
}

}  // namespace
}  // namespace dstack::kernels
