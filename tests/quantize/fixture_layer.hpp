// Test helper: the first layer of the Fashion-MNIST MLP fixture (tests/fixtures/fashion_mnist,
// made by scripts/make_fixtures.py) with 2048 calibration inputs (training split) and 2048
// held-out inputs (test split), pixels / 255, flattened to 784.
#pragma once

#include <hone/core/tensor.hpp>
#include <hone/data/arrays.hpp>
#include <hone/data/dataset.hpp>

#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

namespace fixture {

/// tests/fixtures/fashion_mnist, found from this source file or from the test executable
/// (build/tests/<test>); empty when neither exists.
inline std::filesystem::path directory() {
    namespace fs = std::filesystem;
    const fs::path here(__FILE__);
    std::error_code ec;
    std::vector<fs::path> candidates;
    if (here.is_absolute())
        candidates.push_back(here.parent_path().parent_path() / "fixtures" / "fashion_mnist");
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec)
        candidates.push_back(exe.parent_path().parent_path().parent_path() / "tests" / "fixtures" /
                             "fashion_mnist");
    candidates.push_back(fs::current_path(ec) / ".." / "tests" / "fixtures" / "fashion_mnist");
    for (const auto& c : candidates)
        if (fs::exists(c / "mlp_fc1_weight.npy", ec)) return c;
    return {};
}

/// First `rows` rows of a split, f32 [rows, 784].
inline hone::tensor rows_of(const char* split, std::int64_t rows) {
    const auto d = hone::dataset::fashion_mnist(split);
    REQUIRE(d.size() >= rows);
    hone::tensor out(hone::dtype::f32, {rows, 784});
    std::memcpy(out.data(), d.inputs().data(), std::size_t(rows * 784) * sizeof(float));
    return out;
}

struct layer {
    hone::tensor weight; // [256, 784]
    hone::tensor calib;  // [2048, 784], training split
    hone::tensor test;   // [2048, 784], test split
};

inline const layer& fc1() {
    static const layer l = [] {
        const auto dir = directory();
        REQUIRE_MESSAGE(!dir.empty(), "tests/fixtures/fashion_mnist not found");
        const auto bytes = hone::read_maybe_gzip(dir / "mlp_fc1_weight.npy");
        layer out{hone::parse_npy(bytes, "mlp_fc1_weight.npy"), rows_of("train", 2048),
                  rows_of("test", 2048)};
        REQUIRE(out.weight.dims() == hone::shape{256, 784});
        return out;
    }();
    return l;
}

} // namespace fixture
