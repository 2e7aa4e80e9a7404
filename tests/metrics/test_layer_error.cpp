#include "hone/core/error.hpp"
#include "hone/metrics/layer_error.hpp"

#include <cmath>
#include <cstring>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using doctest::Approx;

namespace {
hone::tensor filled(std::initializer_list<float> values, std::int64_t rows) {
    hone::tensor t(hone::dtype::f32, hone::shape{rows, std::int64_t(values.size()) / rows});
    std::memcpy(t.data(), values.begin(), values.size() * sizeof(float));
    return t;
}
} // namespace

TEST_CASE("layer error: per-name SQNR over batches, first-seen order, JSON") {
    hone::layer_error_collector c;
    const auto base1 = filled({1, 2, 3, 4}, 2), cand1 = filled({1, 2, 3, 5}, 2);
    const auto base2 = filled({2, 2}, 1), cand2 = filled({2, 2}, 1);
    c.add("fc2.input", base1, cand1);
    c.add("logits", base2, cand2);
    c.add("fc2.input", base2, cand2); // a second batch of the same tensor
    REQUIRE(c.layers().size() == 2);
    const auto& fc2 = c.layers()[0];
    CHECK(fc2.name == "fc2.input");
    CHECK(fc2.sums.count == 6);
    CHECK(fc2.sums.reference_sq == 38);
    CHECK(fc2.sqnr_db() == Approx(10 * std::log10(38.0)));
    CHECK(fc2.mse() == Approx(1.0 / 6));
    const auto j = nlohmann::json::parse(c.to_json());
    REQUIRE(j.size() == 2);
    CHECK(j[0]["name"] == "fc2.input");
    CHECK(j[1]["sqnr_db"].is_null()); // identical: no finite SQNR
    // A transposed (strided) view is compared element by element in its logical order.
    hone::layer_error_collector strided;
    const auto square = filled({1, 2, 3, 4}, 2);
    const std::int64_t swap[] = {1, 2};
    const auto transposed =
        hone::make_view(square.data(), square.nbytes(), hone::dtype::f32, hone::shape{2, 2}, swap);
    const auto expected = filled({1, 3, 2, 4}, 2);
    strided.add("t", expected, transposed);
    CHECK(strided.layers()[0].sums.error_sq == 0);
}

TEST_CASE("layer error: mismatches and non-finite activations are errors naming the tensor") {
    hone::layer_error_collector c;
    const auto a = filled({1, 2, 3, 4}, 2), b = filled({1, 2, 3, 4}, 1);
    auto code_and_message = [&](auto&& fn) {
        try {
            fn();
        } catch (const hone::error& e) {
            CHECK(std::string(e.what()).find("conv3") != std::string::npos);
            return e.code();
        }
        return hone::status::ok;
    };
    CHECK(code_and_message([&] { c.add("conv3", a, b); }) == hone::status::shape_mismatch);
    const auto nan = filled({1, std::nanf(""), 3, 4}, 2);
    CHECK(code_and_message([&] { c.add("conv3", a, nan); }) == hone::status::invalid_argument);
    hone::tensor ints(hone::dtype::i32, hone::shape{2, 2});
    CHECK(code_and_message([&] { c.add("conv3", a, ints); }) == hone::status::dtype_mismatch);
    CHECK(c.layers().empty()); // nothing half-added
}
