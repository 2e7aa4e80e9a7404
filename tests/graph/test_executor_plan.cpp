// The executor's run-time plan: buffers reused across runs (no allocation once warm, also with
// concurrent runs) and the oneDNN post-op fusions, each checked against the same graph run with
// the fusion disabled (the operator library's ONNX semantics) and by the path report() names.
#include "../model/fixture_path.hpp"

#include <hone/core/error.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <thread>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace hone;

namespace {

tensor pseudo_random(const shape& dims, std::uint32_t seed) {
    tensor t(dtype::f32, dims);
    std::uint32_t s = seed;
    for (auto& v : t.span<float>()) {
        s = s * 1664525u + 1013904223u;
        v = static_cast<float>(s >> 8) / 16777216.0f * 4.0f - 2.0f; // [-2, 2)
    }
    return t;
}

bool same_bytes(const tensor& a, const tensor& b) {
    return a.dims() == b.dims() && a.nbytes() == b.nbytes() &&
           std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

} // namespace

TEST_CASE("executor: a second run at the same shape allocates no intermediate buffers") {
    const auto m = load_onnx(test::fashion_fixture("cnn.onnx"));
    const executor ex(m);
    const auto x8 = pseudo_random(shape{8, 1, 28, 28}, 1);
    const auto x3 = pseudo_random(shape{3, 1, 28, 28}, 2);
    CHECK(ex.last_run_allocations() == 0); // before any run
    const auto first = std::move(ex.run(x8.view()).at(0));
    CHECK(ex.last_run_allocations() > 0); // conv outputs, first time
    const auto second = std::move(ex.run(x8.view()).at(0));
    CHECK(ex.last_run_allocations() == 0);
    CHECK(same_bytes(first, second));
    // Another batch needs other buffers once, then none again; the first shape's results stay.
    const auto other = std::move(ex.run(x3.view()).at(0));
    CHECK(ex.last_run_allocations() > 0);
    CHECK(same_bytes(other, ex.run(x3.view()).at(0)));
    CHECK(ex.last_run_allocations() == 0);
    CHECK(same_bytes(first, ex.run(x8.view()).at(0)));
    // A fresh executor (fresh buffers) gives the same bytes.
    CHECK(same_bytes(first, executor(m).run(x8.view()).at(0)));
}

TEST_CASE("executor: concurrent runs each use their own buffers") {
    const auto m = load_onnx(test::fashion_fixture("cnn.onnx"));
    const executor ex(m);
    const auto xa = pseudo_random(shape{4, 1, 28, 28}, 3);
    const auto xb = pseudo_random(shape{4, 1, 28, 28}, 4);
    const auto ya = std::move(ex.run(xa.view()).at(0));
    const auto yb = std::move(ex.run(xb.view()).at(0));
    bool ok_a = true, ok_b = true;
    std::thread ta([&] {
        for (int i = 0; i < 20; ++i)
            ok_a &= same_bytes(ya, ex.run(xa.view()).at(0));
    });
    std::thread tb([&] {
        for (int i = 0; i < 20; ++i)
            ok_b &= same_bytes(yb, ex.run(xb.view()).at(0));
    });
    ta.join();
    tb.join();
    CHECK(ok_a);
    CHECK(ok_b);
}
