#include "models/node_args.h"

#include <algorithm>

namespace dstack::models {
namespace {

int64_t product(const models::Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

}  // namespace

SliceBounds slice_bounds(const models::Node& n, const models::Shape& x) {
  SliceBounds b{std::vector<int64_t>(x.size(), 0), std::vector<int64_t>(x.begin(), x.end()),
                std::vector<int64_t>(x.size(), 1)};
  const models::Attrs& a = n.attrs;
  for (size_t i = 0; i < a.axes.size(); ++i) {
    const auto ax = static_cast<size_t>(a.axes[i]);
    b.starts[ax] = a.starts[i], b.ends[ax] = a.ends[i], b.steps[ax] = a.steps[i];
  }
  return b;
}

ReduceView reduce_view(const models::Node& n, const models::Shape& x) {
  const auto [lo, hi] = std::minmax_element(n.attrs.axes.begin(), n.attrs.axes.end());
  const auto first = static_cast<size_t>(*lo), last = static_cast<size_t>(*hi);
  return {product(x, 0, first), product(x, first, last + 1), product(x, last + 1, x.size())};
}

RowView last_axis_rows(const models::Shape& x) {
  const int64_t cols = x.back();
  return {models::num_elements(x) / cols, cols};
}

MatMulPlan matmul_plan(const models::Shape& a, const models::Shape& b, const models::Shape& y) {
  const size_t ra = a.size(), rb = b.size(), ry = y.size(), lead = ry - 2;
  MatMulPlan p;
  p.m = static_cast<int>(a[ra - 2]);
  p.k = static_cast<int>(a[ra - 1]);
  p.n = static_cast<int>(b[rb - 1]);
  const int64_t count = product(y, 0, lead);
  std::vector<int64_t> idx(lead, 0);
  for (int64_t i = 0; i < count; ++i) {
    // Right-aligned leading dims; a size-1 (or missing) dim broadcasts.
    int64_t oa = 0, ob = 0;
    for (size_t d = 0; d < lead; ++d) {
      const size_t back = lead - d;
      if (back <= ra - 2) {
        const size_t da = ra - 2 - back;
        oa = oa * a[da] + (a[da] == 1 ? 0 : idx[d]);
      }
      if (back <= rb - 2) {
        const size_t db = rb - 2 - back;
        ob = ob * b[db] + (b[db] == 1 ? 0 : idx[d]);
      }
    }
    p.offset_a.push_back(oa * p.m * p.k);
    p.offset_b.push_back(ob * p.k * p.n);
    for (size_t d = lead; d-- > 0;) {
      if (++idx[d] < y[d]) break;
      idx[d] = 0;
    }
  }
  p.uniform = true;
  if (count > 1) {
    p.stride_a = p.offset_a[1] - p.offset_a[0];
    p.stride_b = p.offset_b[1] - p.offset_b[0];
  }
  for (int64_t i = 1; i < count && p.uniform; ++i)
    p.uniform = p.offset_a[static_cast<size_t>(i)] - p.offset_a[static_cast<size_t>(i - 1)] == p.stride_a &&
                p.offset_b[static_cast<size_t>(i)] - p.offset_b[static_cast<size_t>(i - 1)] == p.stride_b;
  if (p.uniform && (p.offset_a.front() != 0 || p.offset_b.front() != 0)) p.uniform = false;
  return p;
}

}  // namespace dstack::models
