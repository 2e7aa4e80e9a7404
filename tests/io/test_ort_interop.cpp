// hone's ONNX files in ONNX Runtime (the real CPU engine, tests/ort, docs/onnxruntime.md): the
// committed fixtures give ORT's numbers within 1e-4 (relative to the output's magnitude) of
// hone's executor; the QDQ export (to_qdq) of the MLP and the CNN runs in ORT and agrees in
// top-1 with hone running the same file, on the whole Fashion-MNIST test split.
#include "../model/fixture_path.hpp"
#include "../ort/top1.hpp"
#include "../ort_runner.hpp"
#include "proto_writer.hpp"

#include <hone/core/error.hpp>
#include <hone/data/arrays.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>
#include <hone/io/qdq.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

using namespace hone;
namespace fs = std::filesystem;

namespace {

tensor read_fixture_npy(const char* name) {
    const auto p = test::fashion_fixture(name);
    return parse_npy(read_maybe_gzip(p), p.string());
}

// max |a - b| / max |b|.
double relative_error(const tensor& a, const tensor& b) {
    REQUIRE(a.dims() == b.dims());
    const auto x = a.span<const float>(), y = b.span<const float>();
    double err = 0, mag = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        err = std::max(err, std::fabs(double(x[i]) - double(y[i])));
        mag = std::max(mag, std::fabs(double(y[i])));
    }
    REQUIRE(mag > 0);
    return err / mag;
}

void check_matches_hone(const char* name, const tensor& x) {
    CAPTURE(std::string(name));
    const auto file = test::fashion_fixture(name);
    const executor ex(load_onnx(file));
    const auto outs = ex.run(x.view());
    const auto& want = outs.at(0);
    const auto got = test::ort_run(file, x.view());
    const auto err = relative_error(got, want);
    MESSAGE(std::string(name) << ": ONNX Runtime vs hone, max abs error / max abs output = "
                              << err);
    CHECK(err <= 1e-4);
}

struct scratch_dir {
    fs::path path = fs::temp_directory_path() / ("hone_test_ort_" + std::to_string(::getpid()));
    scratch_dir() { fs::create_directories(path); }
    ~scratch_dir() { fs::remove_all(path); }
};

} // namespace

TEST_CASE("ort: the committed fixtures give hone's numbers in ONNX Runtime") {
    const auto data = dataset::fashion_mnist("test");
    check_matches_hone("mlp.onnx", test::images(data, 0, 300, {784}));
    check_matches_hone("cnn.onnx", test::images(data, 0, 300, {1, 28, 28}));
    check_matches_hone("mobile_block.onnx", read_fixture_npy("mobile_block_input.npy"));
    check_matches_hone("tiny_encoder.onnx", read_fixture_npy("tiny_encoder_input.npy"));
    // Batching along axis 0 changes nothing: one row per run gives the same logits.
    const auto x = test::images(data, 0, 5, {784});
    test::ort_options one;
    one.batch = 1;
    const auto file = test::fashion_fixture("mlp.onnx");
    CHECK(relative_error(test::ort_run(file, x.view(), one), test::ort_run(file, x.view())) <=
          1e-6);
}

TEST_CASE("ort: executed ops, and what a failure reports") {
    const auto data = dataset::fashion_mnist("test");
    const auto x = test::images(data, 0, 4, {784});
    const auto ops = test::ort_executed_ops(test::fashion_fixture("mlp.onnx"), x.view());
    MESSAGE("mlp.onnx: ONNX Runtime executed " << test::join(ops));
    CHECK(ops.count("Gemm") == 1);
    CHECK(test::ort_integer_ops_in(ops).empty()); // an f32 model runs f32 kernels

    scratch_dir tmp;
    const auto bad = tmp.path / "not_a_model.onnx";
    std::ofstream(bad) << "this is not protobuf";
    try {
        (void)test::ort_run(bad, x.view());
        FAIL("ONNX Runtime accepted a file that is not a model");
    } catch (const hone::error& e) {
        const std::string what = e.what();
        CAPTURE(what);
        CHECK(what.find(bad.string()) != std::string::npos);
        CHECK(what.find("ort_run: model") != std::string::npos); // node's one-line message
        CHECK(what.find("(exit 1)") != std::string::npos);
    }
    // A wrong input rank: ORT's own message comes back.
    try {
        (void)test::ort_run(test::fashion_fixture("cnn.onnx"), x.view());
        FAIL("ONNX Runtime ran the CNN on [4, 784]");
    } catch (const hone::error& e) {
        CHECK(std::string(e.what()).find("rank") != std::string::npos);
    }
}

TEST_CASE("ort: uint8 and int64 inputs reach the model with their values") {
    scratch_dir tmp;
    // Cast(to = FLOAT) of an input [N, 3] of ONNX element type `elem` (2 uint8, 7 int64).
    auto cast_model = [&](int elem, const char* file) {
        using namespace hone::test;
        pb shape;
        shape.msg(1, pb().bytes(2, "N")).msg(1, pb().varint(1, 3));
        pb in_type;
        in_type.varint(1, static_cast<std::uint64_t>(elem)).msg(2, shape);
        pb graph;
        graph.msg(1, onnx_node("cast", "Cast", {"x"}, {"y"}).msg(5, onnx_attr_int("to", 1)))
            .bytes(2, "g")
            .msg(11, pb().bytes(1, "x").msg(2, pb().msg(1, in_type)))
            .msg(12, onnx_value("y", {-1, 3}));
        const auto path = tmp.path / file;
        std::ofstream(path, std::ios::binary) << onnx_model(graph);
        return path;
    };
    tensor u(dtype::u8, {3, 3});
    const std::uint8_t uv[] = {0, 1, 2, 127, 128, 200, 253, 254, 255};
    std::memcpy(u.data(), uv, sizeof uv);
    test::ort_options two;
    two.batch = 2; // batches of 2, 1 rows
    const auto yu = test::ort_run(cast_model(2, "cast_u8.onnx"), u.view(), two);
    REQUIRE(yu.dims() == shape{3, 3});
    for (int i = 0; i < 9; ++i)
        CHECK(yu.span<const float>()[i] == float(uv[i]));

    tensor l(dtype::i64, {2, 3});
    const std::int64_t lv[] = {-5, 0, 7, 1 << 20, -(1 << 22), 42};
    std::memcpy(l.data(), lv, sizeof lv);
    const auto yl = test::ort_run(cast_model(7, "cast_i64.onnx"), l.view());
    REQUIRE(yl.dims() == shape{2, 3});
    for (int i = 0; i < 6; ++i)
        CHECK(yl.span<const float>()[i] == float(lv[i]));
}

namespace {

// to_qdq of a fixture with activation grids calibrated on 1000 training images; ORT runs the
// written file on all 10,000 test images; hone runs the same file int8 (Q/DQ pairs fused into
// its int8 kernels) and f32 (reference QDQ semantics).
void check_qdq_in_ort(const char* name, const std::vector<std::int64_t>& sample) {
    CAPTURE(std::string(name));
    const auto m = load_onnx(test::fashion_fixture(name));
    qdq_options qo;
    qo.activations = qdq_activations_from_ranges(test::calibrate(m, 1000, sample));
    scratch_dir tmp;
    const auto file = tmp.path / (std::string("qdq_") + name);
    save_onnx(to_qdq(m, qo), file);
    // HONE_ORT_SAVE_QDQ=DIR keeps a copy, e.g. for benchmarks/ort_exports.sh DIR/*.onnx.
    if (const char* keep = std::getenv("HONE_ORT_SAVE_QDQ")) {
        const auto stem = fs::path(name).stem().string();
        fs::copy_file(file, fs::path(keep) / (stem + "_to_qdq.onnx"),
                      fs::copy_options::overwrite_existing);
    }
    const auto loaded = load_onnx(file);

    const auto data = dataset::fashion_mnist("test");
    const auto count = data.size();
    const auto x = test::images(data, 0, count, sample);
    const auto p_ort = test::top1(test::ort_run(file, x.view()));
    const auto p_f32 = test::top1(executor(m), data, sample, count);

    executor_options io;
    io.precision = exec_precision::int8_static;
    const executor int8(loaded, io), ref(loaded);
    CHECK(int8.uses_int8());
    const auto p_int8 = test::top1(int8, data, sample, count);
    const auto p_ref = test::top1(ref, data, sample, count);
    const double a_int8 = test::agreement(p_ort, p_int8), a_ref = test::agreement(p_ort, p_ref);
    const auto ops = test::ort_executed_ops(file, test::images(data, 0, 64, sample).view());
    MESSAGE(std::string(name) << " QDQ over " << count << " test images: ONNX Runtime top-1 agrees "
                              << a_int8 << " with hone int8_static, " << a_ref
                              << " with hone f32 (QDQ semantics), " << test::agreement(p_ort, p_f32)
                              << " with the f32 model; ORT executed " << test::join(ops)
                              << "; integer kernels: "
                              << test::join(test::ort_integer_ops_in(ops)));
    CHECK(a_int8 >= 0.995);
    CHECK(a_ref >= 0.995);
}

} // namespace

TEST_CASE("ort: the QDQ export of the MLP runs in ONNX Runtime with hone's top-1") {
    check_qdq_in_ort("mlp.onnx", {784});
}

TEST_CASE("ort: the QDQ export of the CNN runs in ONNX Runtime with hone's top-1") {
    check_qdq_in_ort("cnn.onnx", {1, 28, 28});
}
