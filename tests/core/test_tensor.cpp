#include "../status_of.hpp"
#include "hone/core/half.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <cstring>
#include <doctest/doctest.h>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

using hone::dtype;

TEST_CASE("tensor owns zeroed, 64-byte-aligned memory") {
    hone::tensor t(dtype::f32, {3, 5});
    CHECK(t.numel() == 15);
    CHECK(t.nbytes() == 60);
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
    for (float v : t.span<float>())
        CHECK(v == 0.0f);
    hone::tensor packed(dtype::i4, {3});
    CHECK(packed.nbytes() == 2);
    hone::tensor empty;
    CHECK(empty.numel() == 0);
    CHECK(empty.nbytes() == 0);
    CHECK(status_of([] {
              hone::tensor{dtype::f32, {std::int64_t(1) << 40, 8}};
          }) == hone::status::out_of_memory);
}

TEST_CASE("clone is deep; moved-from tensors are gone") {
    hone::tensor a(dtype::i32, {4});
    std::iota(a.span<std::int32_t>().begin(), a.span<std::int32_t>().end(), 10);
    hone::tensor b = a.clone();
    a.span<std::int32_t>()[0] = -1;
    CHECK(b.span<std::int32_t>()[0] == 10);
    CHECK(b.span<std::int32_t>()[3] == 13);
    hone::tensor c = std::move(b);
    CHECK(c.span<std::int32_t>()[3] == 13);
}

TEST_CASE("views: element access, slices, contiguity, type checks") {
    hone::tensor t(dtype::f32, {3, 4});
    auto v = t.view();
    for (std::int64_t r = 0; r < 3; ++r)
        for (std::int64_t c = 0; c < 4; ++c)
            v.at<float>({r, c}) = float(10 * r + c);
    const auto column = v.slice(1, 2, 3); // shape [3, 1], strides [4, 1]
    CHECK(column.dims() == hone::shape{3, 1});
    CHECK(column.at<float>({2, 0}) == 22.0f);
    const auto rows = v.slice(0, 1, 3);
    CHECK(rows.is_contiguous());
    CHECK(rows.at<float>({0, 0}) == 10.0f);
    const auto cols = v.slice(1, 1, 3);
    CHECK_FALSE(cols.is_contiguous());
    CHECK(status_of([&] { (void)cols.span<float>(); }) == hone::status::invalid_argument);
    CHECK(status_of([&] { (void)v.at<std::int32_t>({0, 0}); }) == hone::status::dtype_mismatch);
    std::string msg;
    CHECK(status_of([&] { (void)v.at<float>({3, 0}); }, &msg) == hone::status::out_of_range);
    CHECK(msg == "index [3, 0] is outside shape [3, 4] at axis 0");
    CHECK(status_of([&] { (void)v.at<float>({0}); }) == hone::status::invalid_argument);
    CHECK(status_of([&] { (void)v.slice(1, 3, 5); }) == hone::status::out_of_range);
    CHECK(status_of([&] { (void)v.slice(2, 0, 1); }) == hone::status::out_of_range);
    hone::const_tensor_view cv = v;
    CHECK(cv.at<float>({1, 1}) == 11.0f);
}

TEST_CASE("make_view checks bounds, strides, alignment and null") {
    std::vector<float> buffer(12);
    const std::int64_t transposed[] = {1, 3};
    auto view = hone::make_view(buffer.data(), 48, dtype::f32, {3, 4}, {}); // contiguous
    CHECK(view.is_contiguous());
    auto t = hone::make_view(buffer.data(), 48, dtype::f32, {4, 3}, transposed);
    buffer[1] = 7.0f;
    CHECK(t.at<float>({1, 0}) == 7.0f);
    std::string msg;
    CHECK(status_of(
              [&] {
                  hone::make_view(buffer.data(), 44, dtype::f32, {3, 4});
              },
              &msg) == hone::status::out_of_range);
    CHECK(msg == "f32 view of shape [3, 4] with strides [4, 1] needs 48 bytes; the buffer has 44");
    const std::int64_t wide[] = {5, 1};
    CHECK(status_of([&] {
              hone::make_view(buffer.data(), 48, dtype::f32, {3, 4}, wide);
          }) == hone::status::out_of_range);
    const std::int64_t huge[] = {std::numeric_limits<std::int64_t>::max(), 1};
    CHECK(status_of([&] {
              hone::make_view(buffer.data(), 48, dtype::f32, {3, 4}, huge);
          }) == hone::status::out_of_range);
    const std::int64_t negative[] = {-4, 1};
    CHECK(status_of([&] {
              hone::make_view(buffer.data(), 48, dtype::f32, {3, 4}, negative);
          }) == hone::status::invalid_argument);
    const std::int64_t one[] = {1};
    CHECK(status_of([&] {
              hone::make_view(buffer.data(), 48, dtype::f32, {3, 4}, one);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] { hone::make_view(static_cast<void*>(nullptr), 48, dtype::f32, {3}); }) ==
          hone::status::invalid_argument);
    CHECK(status_of([&] {
              hone::make_view(static_cast<void*>(nullptr), 0, dtype::f32, {0, 3});
          }) == hone::status::ok);
    auto* bytes = reinterpret_cast<std::byte*>(buffer.data());
    CHECK(status_of([&] { hone::make_view(bytes + 1, 40, dtype::f32, {2}); }, &msg) ==
          hone::status::invalid_argument);
    CHECK(msg.find("not aligned to 4 bytes") != std::string::npos);
    const std::int64_t zero_stride[] = {0, 1}; // broadcast rows
    auto b = hone::make_view(buffer.data(), 16, dtype::f32, {100, 4}, zero_stride);
    CHECK(b.at<float>({99, 1}) == 7.0f);
    // packed types: whole bytes, contiguous only
    CHECK(status_of([&] { hone::make_view(bytes, 2, dtype::i4, {5}); }) ==
          hone::status::out_of_range);
    CHECK(status_of([&] { hone::make_view(bytes, 3, dtype::i4, {5}); }) == hone::status::ok);
    const std::int64_t packed_strides[] = {1, 2};
    CHECK(status_of([&] {
              hone::make_view(bytes, 48, dtype::u4, {2, 2}, packed_strides);
          }) == hone::status::invalid_argument);
    CHECK(status_of([&] { hone::make_view(bytes, 48, static_cast<dtype>(42), {2}); }) ==
          hone::status::invalid_argument);
}

TEST_CASE("copy converts between float types and gathers strides") {
    hone::tensor src(dtype::f32, {2, 3});
    const float values[] = {1.0f,  -0.0f, 65520.0f,
                            1e-8f, 3.0f,  -std::numeric_limits<float>::infinity()};
    std::memcpy(src.data(), values, sizeof values);
    hone::tensor h(dtype::f16, {2, 3});
    hone::copy(src, h);
    const auto hv = h.span<hone::half>();
    CHECK(hv[0].bits == 0x3c00);
    CHECK(hv[1].bits == 0x8000);
    CHECK(hv[2].bits == 0x7c00);
    CHECK(hv[3].bits == 0x0000); // 1e-8 < 2^-25
    CHECK(hv[5].bits == 0xfc00);
    hone::tensor bf(dtype::bf16, {2, 3});
    hone::copy(h, bf); // f16 → bf16 through f32
    CHECK(hone::to_float(bf.view().at<hone::bfloat16>({1, 1})) == 3.0f);
    // strided source: a transpose
    const std::int64_t transposed[] = {1, 3};
    auto t = hone::make_view(src.data(), src.nbytes(), dtype::f32, {3, 2}, transposed);
    hone::tensor dense = hone::tensor::copy_of(t);
    CHECK(dense.span<float>()[1] == 1e-8f);    // [0][1] = src[1][0]
    CHECK(dense.span<float>()[3] == 3.0f);     // [1][1] = src[1][1]
    CHECK(dense.span<float>()[4] == 65520.0f); // [2][0] = src[0][2]
    std::string msg;
    CHECK(status_of(
              [&] {
                  hone::copy(src, hone::tensor(dtype::f32, {3, 2}));
              },
              &msg) == hone::status::shape_mismatch);
    CHECK(msg == "copy from shape [2, 3] to shape [3, 2]");
    CHECK(status_of([&] {
              hone::copy(src, hone::tensor(dtype::i8, {2, 3}));
          }) == hone::status::dtype_mismatch);
    hone::tensor q(dtype::i4, {5});
    static_cast<std::uint8_t*>(q.data())[2] = 0x0f;
    hone::tensor q2 = hone::tensor::copy_of(q);
    CHECK(static_cast<const std::uint8_t*>(q2.data())[2] == 0x0f);
}
