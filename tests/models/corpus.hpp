// Test helper: the real-world model corpus (tests/fixtures/corpus, made by
// scripts/make_corpus.py): its manifest, its files, and the error measures the corpus tests use.
#pragma once

#include "../model/fixture_path.hpp"

#include <hone/core/error.hpp>
#include <hone/core/tensor.hpp>
#include <hone/data/arrays.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace hone::test::corpus {

inline std::filesystem::path dir() { return fixtures_dir() / "corpus"; }

/// A committed corpus file; the test fails, naming it, when it is missing.
inline std::filesystem::path file(const std::string& name) {
    const auto path = dir() / name;
    REQUIRE_MESSAGE(std::filesystem::exists(path),
                    "corpus fixture " << path.string()
                                      << " is missing (HONE_FIXTURES overrides tests/fixtures): "
                                         "it is committed; restore it with git or run "
                                         "scripts/make_corpus.py");
    return path;
}

/// manifest.json, parsed.
inline const nlohmann::json& manifest() {
    static const nlohmann::json m = [] {
        std::ifstream in(file("manifest.json"));
        return nlohmann::json::parse(in);
    }();
    return m;
}

/// The models' names, in manifest order.
inline std::vector<std::string> models() {
    std::vector<std::string> names;
    for (const auto& [name, entry] : manifest().at("models").items())
        names.push_back(name);
    return names;
}

inline const nlohmann::json& entry(const std::string& model) {
    return manifest().at("models").at(model);
}

inline tensor read_npy(const std::string& name) {
    const auto path = file(name);
    return parse_npy(read_maybe_gzip(path), path.string());
}

/// The model's NPY file of `kind` ("test_input", "test_output", "calib", "eval").
inline std::string data_file(const std::string& model, const char* kind) {
    return entry(model).at(kind).at("file").get<std::string>();
}

/// max |got − ref| / max |ref| (NaN in `got` gives NaN; shapes must match, else a failed
/// CHECK and NaN).
inline double relative_max_error(const_tensor_view got, const_tensor_view ref) {
    CHECK_MESSAGE(got.dims() == ref.dims(),
                  "shape " << got.dims().to_string() << ", reference " << ref.dims().to_string());
    if (got.dims() != ref.dims()) return std::nan("");
    const auto g = got.span<float>();
    const auto r = ref.span<float>();
    double scale = 0, err = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
        scale = std::max(scale, std::fabs(double(r[i])));
        const double d = std::fabs(double(g[i]) - double(r[i]));
        if (!(d <= err)) err = d; // keeps a NaN
    }
    return err / std::max(scale, 1e-30);
}

/// SQNR in dB: 10·log10(Σ ref² / Σ (ref − got)²); +inf when identical, NaN on a NaN or when
/// the shapes differ (a failed CHECK).
inline double sqnr_db(const_tensor_view got, const_tensor_view ref) {
    CHECK_MESSAGE(got.dims() == ref.dims(),
                  "shape " << got.dims().to_string() << ", reference " << ref.dims().to_string());
    if (got.dims() != ref.dims()) return std::nan("");
    const auto g = got.span<float>();
    const auto r = ref.span<float>();
    double signal = 0, noise = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
        signal += double(r[i]) * double(r[i]);
        const double d = double(r[i]) - double(g[i]);
        noise += d * d;
    }
    return 10.0 * std::log10(signal / noise);
}

} // namespace hone::test::corpus
