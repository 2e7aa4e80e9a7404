// Test helper shared by every test that reads the Fashion-MNIST MLP fixture
// (tests/fixtures/fashion_mnist, made by scripts/make_fixtures.py): finding the directory,
// loading an NPY file, the first rows of a split (pixels / 255, flattened to 784), and the first
// layer fc1 with 2048 calibration inputs (training split) and 2048 held-out inputs (test split).
#pragma once

#include <hone/core/tensor.hpp>
#include <hone/data/arrays.hpp>
#include <hone/data/dataset.hpp>
#include <hone/kernels/gemm.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace fixture {

/// tests/fixtures/fashion_mnist, found from HONE_FIXTURES_DIR, then this source file, the
/// working directory or the test executable (build/tests/<test>) and up to five of their
/// parents; empty when none has it.
inline std::filesystem::path directory() {
    namespace fs = std::filesystem;
    if (const char* env = std::getenv("HONE_FIXTURES_DIR")) return env;
    const fs::path rel = fs::path("tests") / "fixtures" / "fashion_mnist";
    std::error_code ec;
    std::vector<fs::path> starts{fs::path(__FILE__).parent_path(), fs::current_path(ec)};
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) starts.push_back(exe.parent_path());
    for (auto p : starts) {
        p = fs::absolute(p, ec);
        for (int up = 0; up < 6 && !p.empty(); ++up, p = p.parent_path()) {
            if (fs::exists(p / rel / "mlp_fc1_weight.npy", ec)) return p / rel;
            if (p == p.parent_path()) break;
        }
    }
    return {};
}

/// An NPY file of the fixture directory (gzip or not); the test fails when the directory is
/// missing.
inline hone::tensor load(const std::string& file) {
    const auto dir = directory();
    REQUIRE_MESSAGE(!dir.empty(), "tests/fixtures/fashion_mnist not found (HONE_FIXTURES_DIR)");
    const auto path = dir / file;
    return hone::parse_npy(hone::read_maybe_gzip(path), path.string());
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
        layer out{load("mlp_fc1_weight.npy"), rows_of("train", 2048), rows_of("test", 2048)};
        REQUIRE(out.weight.dims() == hone::shape{256, 784});
        return out;
    }();
    return l;
}

/// ‖(W − Ŵ)·Xᵀ‖² / (tokens·rows): the layer-output MSE of a changed weight Ŵ [rows, k] on the
/// inputs x [tokens, k].
inline double output_mse(const hone::tensor& w, const hone::tensor& w_hat, const hone::tensor& x) {
    const auto rows = w.dims()[0], k = w.dims()[1], tokens = x.dims()[0];
    std::vector<float> d(static_cast<std::size_t>(rows * k));
    for (std::size_t i = 0; i < d.size(); ++i)
        d[i] = w.span<float>()[i] - w_hat.span<float>()[i];
    std::vector<float> y(static_cast<std::size_t>(tokens * rows));
    hone::kernels::matmul_f32(x.span<float>().data(), d.data(), y.data(), tokens, k, rows,
                              hone::kernels::weight_layout::n_by_k, nullptr);
    double s = 0;
    for (float v : y)
        s += double(v) * v;
    return s / double(y.size());
}

} // namespace fixture
