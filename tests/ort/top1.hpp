// Test helper for the ONNX Runtime comparisons (tests/io/test_ort_interop.cpp) and the QDQ
// tests (tests/io/test_qdq_static.cpp): Fashion-MNIST images shaped for a model, top-1 classes
// of logits and of hone's executor, agreement, and activation ranges calibrated on images.
#pragma once

#include <hone/core/tensor.hpp>
#include <hone/data/dataset.hpp>
#include <hone/graph/executor.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace hone::test {

/// Images [begin, end) of `data` (f32 [N, 784]) as f32 [end - begin, sample...], e.g. sample
/// {784} for the MLP, {1, 28, 28} for the CNN.
inline tensor images(const dataset& data, std::int64_t begin, std::int64_t end,
                     std::vector<std::int64_t> sample) {
    REQUIRE(data.inputs().dims().numel() >= end * 784);
    sample.insert(sample.begin(), end - begin);
    tensor t(dtype::f32, shape(std::span<const std::int64_t>(sample)));
    REQUIRE(t.numel() == (end - begin) * 784);
    std::memcpy(t.data(), static_cast<const float*>(data.inputs().data()) + begin * 784,
                t.nbytes());
    return t;
}

/// Argmax of each row of f32 logits [N, classes].
inline std::vector<std::int64_t> top1(const tensor& logits) {
    REQUIRE(logits.dims().rank() == 2);
    const auto n = logits.dims()[0], classes = logits.dims()[1];
    const auto p = logits.span<const float>();
    std::vector<std::int64_t> out;
    for (std::int64_t i = 0; i < n; ++i) {
        const auto* row = p.data() + i * classes;
        out.push_back(std::max_element(row, row + classes) - row);
    }
    return out;
}

/// hone's top-1 on the first `count` images, run in batches of 500.
inline std::vector<std::int64_t> top1(const executor& ex, const dataset& data,
                                      const std::vector<std::int64_t>& sample, std::int64_t count) {
    std::vector<std::int64_t> out;
    for (std::int64_t b = 0; b < count; b += 500) {
        const auto x = images(data, b, std::min(count, b + 500), sample);
        const auto p = top1(ex.run(x.view()).at(0));
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

inline double agreement(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
    REQUIRE(a.size() == b.size());
    REQUIRE(!a.empty());
    std::size_t same = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        same += a[i] == b[i];
    return static_cast<double>(same) / static_cast<double>(a.size());
}

/// Min/max of the input and of every value hone's executor produces over `n` training images
/// (a seeded subset), for to_qdq's activation grids.
inline std::map<std::string, tensor_range, std::less<>>
calibrate(const model& m, std::int64_t n, const std::vector<std::int64_t>& sample) {
    const executor ex(m);
    const auto train = dataset::fashion_mnist("train").subset(n, 7);
    const auto x = images(train, 0, n, sample);
    std::map<std::string, tensor_range, std::less<>> r;
    auto note = [&](const std::string& name, const_tensor_view t) {
        const auto s = tensor::copy_of(t);
        if (s.type() != dtype::f32 || s.numel() == 0) return;
        const auto p = s.span<const float>();
        const auto [lo, hi] = std::minmax_element(p.begin(), p.end());
        auto& e = r[name];
        e.lo = std::min(e.lo, *lo);
        e.hi = std::max(e.hi, *hi);
    };
    note(m.inputs.at(0).name, x.view());
    (void)ex.run(x.view(), note);
    return r;
}

} // namespace hone::test
