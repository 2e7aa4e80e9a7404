// Gradual schedules against the Zhu & Gupta / TFMOT formula at chosen steps; sparse storage
// round trips, real byte counts and known layouts.
#include "hone/prune/pruner.hpp"
#include "hone/prune/schedule.hpp"
#include "hone/prune/sparse_storage.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

using namespace hone;

namespace {

template <class Fn> std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const hone::error& e) {
        return e.what();
    }
    return "";
}

tensor random_tensor(const shape& s, unsigned seed) {
    tensor t(dtype::f32, s);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    for (float& x : t.span<float>())
        x = normal(rng);
    return t;
}

} // namespace

TEST_CASE("polynomial decay matches s_f + (s_i − s_f)(1 − p)^3 at chosen steps") {
    sparsity_schedule s;
    s.initial_sparsity = 0.1;
    s.final_sparsity = 0.8;
    s.begin_step = 1000;
    s.end_step = 5000;
    s.frequency = 100;
    CHECK(s.sparsity_at(0) == doctest::Approx(0.1));
    CHECK(s.sparsity_at(1000) == doctest::Approx(0.1));
    // step 2000: p = 0.25, (1 − p)^3 = 0.421875 → 0.8 − 0.7·0.421875 = 0.5046875
    CHECK(s.sparsity_at(2000) == doctest::Approx(0.5046875).epsilon(1e-12));
    // step 3000: p = 0.5 → 0.8 − 0.7·0.125 = 0.7125
    CHECK(s.sparsity_at(3000) == doctest::Approx(0.7125).epsilon(1e-12));
    // step 4600: p = 0.9 → 0.8 − 0.7·0.001 = 0.7993
    CHECK(s.sparsity_at(4600) == doctest::Approx(0.7993).epsilon(1e-12));
    CHECK(s.sparsity_at(5000) == doctest::Approx(0.8));
    CHECK(s.sparsity_at(9000) == doctest::Approx(0.8));
    // monotone between begin and end
    double prev = 0;
    for (std::int64_t t = 1000; t <= 5000; t += 100) {
        CHECK(s.sparsity_at(t) >= prev);
        prev = s.sparsity_at(t);
    }
    CHECK(s.should_prune(1000));
    CHECK(s.should_prune(1100));
    CHECK_FALSE(s.should_prune(1050));
    CHECK_FALSE(s.should_prune(900));
    CHECK(s.should_prune(5000));
    CHECK_FALSE(s.should_prune(5100));
    s.power = 1.0; // linear
    CHECK(s.sparsity_at(3000) == doctest::Approx(0.45));
}

TEST_CASE("constant schedule and schedule errors") {
    sparsity_schedule c;
    c.kind = schedule_kind::constant;
    c.final_sparsity = 0.6;
    c.begin_step = 10;
    c.frequency = 5;
    CHECK(c.sparsity_at(0) == 0.6);
    CHECK(c.sparsity_at(100000) == 0.6);
    CHECK(c.should_prune(10));
    CHECK(c.should_prune(1000000)); // end_step = -1: no end
    CHECK_FALSE(c.should_prune(11));
    CHECK_FALSE(c.should_prune(5));

    sparsity_schedule bad;
    bad.final_sparsity = 1.0;
    bad.end_step = 10;
    CHECK(error_of([&] { bad.validate(); }).find("final_sparsity") != std::string::npos);
    bad.final_sparsity = 0.5;
    bad.end_step = -1;
    CHECK(error_of([&] { bad.sparsity_at(1); }).find("end_step") != std::string::npos);
    bad.end_step = 10;
    bad.frequency = 0;
    CHECK(error_of([&] { bad.should_prune(1); }).find("frequency") != std::string::npos);
    bad.frequency = 1;
    bad.initial_sparsity = -0.5;
    CHECK(error_of([&] { bad.validate(); }).find("initial_sparsity") != std::string::npos);
}

TEST_CASE("sparse storage: round trips bit-exact, bytes() is the stored size") {
    auto w = random_tensor({64, 128}, 3);
    prune_n_m(w, 2, 4);
    w.span<float>()[1] = -0.0f; // a kept −0 is a zero: not stored, restored as +0
    const std::int64_t n = 64 * 128;
    std::int64_t nnz = 0;
    for (float x : w.span<float>())
        nnz += x != 0.0f;

    const auto bm = sparse_tensor::encode(w, sparse_format::bitmask);
    CHECK(bm.stored_values() == nnz);
    CHECK(bm.bytes() == std::size_t(n / 8 + nnz * 4));
    const auto csr = sparse_tensor::encode(w, sparse_format::csr);
    CHECK(csr.bytes() == std::size_t((64 + 1) * 4 + nnz * 8));
    const auto nm = sparse_tensor::encode(w, sparse_format::n_m, 2, 4);
    // 2:4: half the values (f32) + 2 bits per kept value = 4·n/2 + n/2·2/8 bytes
    CHECK(nm.bytes() == std::size_t(n / 2 * 4 + n / 2 * 2 / 8));
    CHECK(nm.bytes() == std::size_t(n * 2 + n / 8)); // 2.125 bytes/weight vs 4 dense
    CHECK(nm.dense_bytes() == std::size_t(n * 4));
    for (const auto* s : {&bm, &csr, &nm}) {
        const auto d = s->to_dense();
        CHECK(d.dims() == w.dims());
        const std::span<const float> a = d.span<float>(), b = w.span<float>();
        for (std::size_t i = 0; i < a.size(); ++i)
            CHECK(std::bit_cast<std::uint32_t>(a[i]) ==
                  std::bit_cast<std::uint32_t>(b[i] == 0.0f ? 0.0f : b[i]));
    }
    // 4:8 uses 3-bit positions; a 4-D conv keeps its shape
    auto conv = random_tensor({4, 2, 4, 4}, 5);
    prune_n_m(conv, 4, 8);
    const auto nm48 = sparse_tensor::encode(conv, sparse_format::n_m, 4, 8);
    CHECK(n_m_index_bits(8) == 3);
    CHECK(nm48.bytes() == std::size_t(64 * 4 + 4 * 6)); // per row 16 positions × 3 bits = 6 B
    CHECK(std::memcmp(nm48.to_dense().data(), conv.data(), conv.nbytes()) == 0);
    CHECK(nm48.to_dense().dims() == shape{4, 2, 4, 4});
}

TEST_CASE("sparse storage: known 2:4 bytes, CSR arrays, sparse groups padded, errors") {
    tensor w(dtype::f32, {1, 8});
    const float v[8] = {0, 5, 0, 6, 7, 0, 0, 0}; // group 1 has one non-zero
    std::memcpy(w.data(), v, sizeof v);
    const auto nm = sparse_tensor::encode(w, sparse_format::n_m, 2, 4);
    // positions: group 0 {1, 3}, group 1 {0, 1 (padding zero)} → 2-bit LSB-first stream
    // 1 | 3<<2 | 0<<4 | 1<<6 = 0x4D
    REQUIRE(nm.index_bytes().size() == 1);
    CHECK(nm.index_bytes()[0] == 0x4D);
    CHECK(std::vector<float>(nm.values().begin(), nm.values().end()) ==
          std::vector<float>{5, 6, 7, 0});
    const auto csr = sparse_tensor::encode(w, sparse_format::csr);
    CHECK(std::vector<std::int32_t>(csr.row_ptr().begin(), csr.row_ptr().end()) ==
          std::vector<std::int32_t>{0, 3});
    CHECK(std::vector<std::int32_t>(csr.col_indices().begin(), csr.col_indices().end()) ==
          std::vector<std::int32_t>{1, 3, 4});
    const auto bm = sparse_tensor::encode(w, sparse_format::bitmask);
    CHECK(bm.index_bytes()[0] == 0x1A); // bits 1, 3, 4

    tensor dense(dtype::f32, {1, 8});
    for (float& x : dense.span<float>())
        x = 1.0f;
    auto msg = error_of([&] { sparse_tensor::encode(dense, sparse_format::n_m, 2, 4, "fc"); });
    CHECK(msg.find("row 0, group 0") != std::string::npos);
    CHECK(msg.find("'fc'") != std::string::npos);
    CHECK(!error_of([&] { sparse_tensor::encode(dense, sparse_format::n_m, 2, 3); }).empty());
    CHECK(!error_of([&] { sparse_tensor::encode(dense, sparse_format::n_m, 4, 4); }).empty());
    tensor wrong(dtype::f32, {2, 4});
    CHECK(error_of([&] { bm.to_dense(wrong); }).find("[1, 8]") != std::string::npos);
}
