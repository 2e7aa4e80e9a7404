// Datasets: Fashion-MNIST from the Debian package, subsets, reshapes, NPY pairs.
#include "hone/core/error.hpp"
#include "hone/data/arrays.hpp"
#include "hone/data/dataset.hpp"

#include <cstring>
#include <doctest/doctest.h>
#include <filesystem>
#include <unistd.h>

namespace fs = std::filesystem;

TEST_CASE("Fashion-MNIST test split: 10,000 images, 1,000 per class, pixels in [0, 1]") {
    const auto test = hone::dataset::fashion_mnist("test");
    CHECK(test.size() == 10000);
    CHECK(test.inputs().dims() == hone::shape{10000, 784});
    CHECK(test.name() == "fashion-mnist:test");
    CHECK(test.labels()[0] == 9); // the first test image is an ankle boot
    CHECK(test.labels()[1] == 2);
    const auto by_label = test.indices_by_label();
    REQUIRE(by_label.size() == 10);
    for (const auto& [label, samples] : by_label)
        CHECK(samples.size() == 1000);
    float lo = 1, hi = 0;
    for (float x : test.inputs().span<float>())
        lo = std::min(lo, x), hi = std::max(hi, x);
    CHECK(lo == 0.0f);
    CHECK(hi == 1.0f);
    CHECK(hone::dataset::fashion_mnist_classes().at(9) == "Ankle boot");
    CHECK_THROWS_AS(hone::dataset::fashion_mnist("validation"), hone::error);
    CHECK_THROWS_AS(hone::dataset::fashion_mnist("test", "/nonexistent"), hone::error);
}

TEST_CASE("subsets are fixed by their seed; reshapes and normalisation") {
    const auto test = hone::dataset::fashion_mnist("test");
    const auto a = test.subset(500, 7), b = test.subset(500, 7), c = test.subset(500, 8);
    CHECK(a.size() == 500);
    CHECK(a.name() == "fashion-mnist:test:500");
    CHECK(std::equal(a.labels().begin(), a.labels().end(), b.labels().begin()));
    CHECK(std::memcmp(a.inputs().data(), b.inputs().data(), a.inputs().nbytes()) == 0);
    CHECK_FALSE(std::memcmp(a.inputs().data(), c.inputs().data(), a.inputs().nbytes()) == 0);
    CHECK(test.subset(20000, 1).size() == 10000);
    auto images = a.reshaped({1, 28, 28});
    CHECK(images.inputs().dims() == hone::shape{500, 1, 28, 28});
    CHECK_THROWS_AS(a.reshaped({27, 27}), hone::error);
    images.normalize(0.5f, 0.5f);
    float lo = 1;
    for (float x : images.inputs().span<float>())
        lo = std::min(lo, x);
    CHECK(lo == -1.0f);
    CHECK_THROWS_AS(images.normalize(0, 0), hone::error);
}

TEST_CASE("NPY pairs and mismatches") {
    const fs::path dir = fs::temp_directory_path() / ("hone-dataset-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    hone::tensor x(hone::dtype::f32, {3, 2});
    hone::tensor y(hone::dtype::i64, {3});
    y.span<std::int64_t>()[2] = 4;
    hone::save_npy(dir / "x.npy", x);
    hone::save_npy(dir / "y.npy", y);
    const auto d = hone::dataset::from_npy(dir / "x.npy", dir / "y.npy");
    CHECK(d.size() == 3);
    CHECK(d.labels()[2] == 4);
    CHECK_FALSE(hone::dataset::from_npy(dir / "x.npy", {}).has_labels());
    hone::tensor y2(hone::dtype::i64, {2});
    hone::save_npy(dir / "y2.npy", y2);
    CHECK_THROWS_WITH_AS(hone::dataset::from_npy(dir / "x.npy", dir / "y2.npy"),
                         doctest::Contains("has 3 samples but"), hone::error);
    hone::tensor negative(hone::dtype::i64, {3});
    negative.span<std::int64_t>()[1] = -1;
    hone::save_npy(dir / "neg.npy", negative);
    CHECK_THROWS_WITH_AS(hone::dataset::from_npy(dir / "x.npy", dir / "neg.npy"),
                         doctest::Contains("label -1 of sample 1"), hone::error);
    fs::remove_all(dir);
}

TEST_CASE("token ids: i64 kept, i32 widened, subsets and reshapes keep the type, no normalizing") {
    const fs::path dir = fs::temp_directory_path() / ("hone-tokens-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    hone::tensor ids(hone::dtype::i32, {4, 3});
    auto v = ids.span<std::int32_t>();
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = static_cast<std::int32_t>(100 * (i / 3) + i % 3); // row r holds 100r, 100r+1, …
    hone::save_npy(dir / "ids.npy", ids);
    auto d = hone::dataset::from_npy(dir / "ids.npy", {});
    REQUIRE(d.inputs().type() == hone::dtype::i64);
    CHECK(d.inputs().span<std::int64_t>()[4] == 101);
    const auto sub = d.subset(2, 7);
    REQUIRE(sub.inputs().type() == hone::dtype::i64);
    for (std::int64_t r = 0; r < 2; ++r) {
        const auto row = sub.inputs().span<std::int64_t>().subspan(std::size_t(3 * r), 3);
        CHECK(row[1] == row[0] + 1); // whole rows were copied
        CHECK(row[0] % 100 == 0);
    }
    const auto flat = d.reshaped(hone::shape{3});
    CHECK(flat.inputs().type() == hone::dtype::i64);
    CHECK_THROWS_WITH_AS(d.normalize(0.5f, 2.0f), doctest::Contains("cannot be normalized"),
                         hone::error);
    hone::tensor bytes(hone::dtype::i8, {2, 2});
    hone::save_npy(dir / "i8.npy", bytes);
    CHECK_THROWS_WITH_AS(hone::dataset::from_npy(dir / "i8.npy", {}),
                         doctest::Contains("i32/i64 token ids"), hone::error);
    fs::remove_all(dir);
}
