// MatMul and Gemm: known values, numpy batching and 1-D promotion, Gemm vs MatMul + Add.
#include "ops_test_util.hpp"

namespace ops = hone::ops;
using namespace ops_test;
using hone::shape;
using hone::status;

namespace {

// Naive batched reference: a [B, M, K], b [B, K, N] (already broadcast), double accumulation.
std::vector<float> naive_bmm(const std::vector<float>& a, const std::vector<float>& b,
                             std::int64_t batches, std::int64_t m, std::int64_t k, std::int64_t n) {
    std::vector<float> c(static_cast<std::size_t>(batches * m * n));
    for (std::int64_t z = 0; z < batches; ++z)
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                double s = 0;
                for (std::int64_t p = 0; p < k; ++p)
                    s += double(a[std::size_t((z * m + i) * k + p)]) *
                         b[std::size_t((z * k + p) * n + j)];
                c[std::size_t((z * m + i) * n + j)] = float(s);
            }
    return c;
}

} // namespace

TEST_CASE("matmul: known values and 1-D promotion") {
    const auto a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
    const auto b = f32({3, 2}, {7, 8, 9, 10, 11, 12});
    check_values(ops::matmul(a, b), {2, 2}, {58, 64, 139, 154});
    const auto v = f32({3}, {1, 0, -1});
    check_values(ops::matmul(a, v), {2}, {-2, -2});              // [2,3]·[3] → [2]
    check_values(ops::matmul(v, b), {2}, {-4, -4});              // [3]·[3,2] → [2]
    check_values(ops::matmul(v, f32({3}, {1, 2, 3})), {}, {-2}); // → scalar
    error_of([&] { (void)ops::matmul(a, a); }, status::shape_mismatch);
    error_of(
        [&] {
            (void)ops::matmul(a, hone::tensor(hone::dtype::f16, {3, 2}));
        },
        status::dtype_mismatch);
}

TEST_CASE("matmul: broadcast batch dims against a naive reference") {
    // a [2, 1, 4, 5] with b [3, 5, 6] → [2, 3, 4, 6].
    const auto a = random_f32({2, 1, 4, 5}, 11), b = random_f32({3, 5, 6}, 12);
    const auto c = ops::matmul(a, b);
    REQUIRE(c.dims() == shape{2, 3, 4, 6});
    std::vector<float> ab, bb;
    const auto av = values<float>(a), bv = values<float>(b);
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) {
            ab.insert(ab.end(), av.begin() + i * 20, av.begin() + (i + 1) * 20);
            bb.insert(bb.end(), bv.begin() + j * 30, bv.begin() + (j + 1) * 30);
        }
    check_values(c, {2, 3, 4, 6}, naive_bmm(ab, bb, 6, 4, 5, 6), 1e-5);
    // Shared weights [K, N] with batched activations (the transformer case).
    const auto x = random_f32({2, 7, 5}, 13), w = random_f32({5, 3}, 14);
    const auto y = ops::matmul(x, w);
    const auto wv = values<float>(w);
    std::vector<float> wb;
    for (int i = 0; i < 2; ++i)
        wb.insert(wb.end(), wv.begin(), wv.end());
    check_values(y, {2, 7, 3}, naive_bmm(values<float>(x), wb, 2, 7, 5, 3), 1e-5);
    // Empty dims.
    CHECK(ops::matmul(random_f32({0, 5}, 1), random_f32({5, 3}, 2)).dims() == shape{0, 3});
    check_values(ops::matmul(f32({2, 0}, {}), f32({0, 2}, {})), {2, 2}, {0, 0, 0, 0});
    error_of(
        [&] {
            (void)ops::matmul(random_f32({2, 4, 5}, 1), random_f32({3, 5, 6}, 2));
        },
        status::shape_mismatch);
}

TEST_CASE("gemm: alpha, beta, transposes, C broadcast; cross-check with matmul + add") {
    const auto a = random_f32({4, 6}, 21), b = random_f32({6, 5}, 22);
    const auto at = ops::transpose(a), bt = ops::transpose(b);
    const auto ref = ops::matmul(a, b);
    for (const bool ta : {false, true})
        for (const bool tb : {false, true}) {
            CAPTURE(ta);
            CAPTURE(tb);
            const auto y = ops::gemm(ta ? at : a, tb ? bt : b, std::nullopt, {1.0f, 1.0f, ta, tb});
            check_close(y, ref, 1e-5);
        }
    // Bias broadcasts: [N], [1, N], [M, 1], [M, N], scalar — vs matmul + add.
    const std::vector<hone::tensor> biases = [] {
        std::vector<hone::tensor> v;
        v.push_back(random_f32({5}, 31));
        v.push_back(random_f32({1, 5}, 32));
        v.push_back(random_f32({4, 1}, 33));
        v.push_back(random_f32({4, 5}, 34));
        v.push_back(f32({}, {0.25f}));
        return v;
    }();
    for (const auto& c : biases) {
        CAPTURE(c.dims().to_string());
        check_close(ops::gemm(a, bt, c.view(), {1.0f, 1.0f, false, true}), ops::add(ref, c), 1e-5);
        // alpha = 2, beta = -0.5.
        const auto expect = ops::add(ops::mul(ref, f32({}, {2.0f})), ops::mul(c, f32({}, {-0.5f})));
        check_close(ops::gemm(a, b, c.view(), {2.0f, -0.5f, false, false}), expect, 1e-5);
    }
    // Known values: [[1,2],[3,4]]·[[1,0],[0,1]] · 3 + 1.
    check_values(ops::gemm(f32({2, 2}, {1, 2, 3, 4}), f32({2, 2}, {1, 0, 0, 1}), f32({}, {1}),
                           {3.0f, 1.0f, false, false}),
                 {2, 2}, {4, 7, 10, 13});
    error_of([&] { (void)ops::gemm(a, a); }, status::shape_mismatch);
    error_of([&] { (void)ops::gemm(a, b, random_f32({3}, 1).view()); }, status::shape_mismatch);
    error_of([&] { (void)ops::gemm(random_f32({2, 3, 4}, 1), b); }, status::shape_mismatch);
    CHECK(ops::gemm(random_f32({0, 6}, 1), b).dims() == shape{0, 5});
}
