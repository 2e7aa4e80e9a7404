// ONNX in and out: the fixtures load with their weights bit-exact, save → load round-trips,
// saved files pass onnx::checker, old opsets are normalized, and hostile files fail cleanly.
#include "../model/fixture_path.hpp"
#include "proto_writer.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/data/arrays.hpp>
#include <hone/graph/executor.hpp>
#include <hone/io/onnx.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <unistd.h>

using namespace hone;
using namespace hone::test;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("hone_test_onnx_" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
};

bool same_bytes(const tensor& a, const tensor& b) {
    return a.type() == b.type() && a.dims() == b.dims() && a.nbytes() == b.nbytes() &&
           std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

// The committed fixture `name`; the test fails, naming it, when it is missing.
fs::path fixture(const char* name) {
    const auto p = fashion_fixture(name);
    REQUIRE_MESSAGE(fs::exists(p), "fixture tests/fixtures/fashion_mnist/"
                                       << name << " missing (looked for " << p.string()
                                       << "): it is committed, restore it with git or run "
                                          "scripts/make_fixtures.py");
    return p;
}

tensor npy(const char* name) {
    const auto p = fixture(name);
    return parse_npy(read_file(p), p.string());
}

status code_of(const std::function<void()>& f, std::string* message = nullptr) {
    try {
        f();
    } catch (const hone::error& e) {
        if (message) *message = e.what();
        return e.code();
    }
    return status::ok;
}

// A one-node graph y = Relu(x) plus whatever `extra` adds.
pb relu_graph() {
    pb g;
    g.msg(1, onnx_node("relu", "Relu", {"x"}, {"y"})).bytes(2, "g");
    g.msg(11, onnx_value("x", {-1, 4})).msg(12, onnx_value("y", {-1, 4}));
    return g;
}

// A tensor of ONNX data_type `type` with raw_data `raw` (sizes need not agree).
pb raw_tensor(const std::string& name, std::initializer_list<std::int64_t> dims, int type,
              const std::string& raw) {
    pb t;
    for (const auto d : dims)
        t.varint(1, static_cast<std::uint64_t>(d));
    t.varint(2, static_cast<std::uint64_t>(type)).bytes(8, name).bytes(9, raw);
    return t;
}
pb f32_tensor(const std::string& name, std::initializer_list<std::int64_t> dims, float v) {
    std::int64_t n = 1;
    for (const auto d : dims)
        n *= d;
    return onnx_tensor(name, dims, std::vector<float>(static_cast<std::size_t>(n), v));
}
constexpr int onnx_int4 = 22, onnx_uint4 = 21;

// y = MatMul(x [N, 8], DequantizeLinear(w [8, 4] INT4, s, axis, block_size)) at opset 21, with
// the initializers and attributes given.
std::string int4_model(const pb& w, const pb& scale, std::int64_t axis, std::int64_t block,
                       const pb* zero_point = nullptr, std::int64_t opset = 21) {
    pb g;
    auto dq = onnx_node("dq", "DequantizeLinear",
                        zero_point ? std::initializer_list<std::string>{"w", "s", "z"}
                                   : std::initializer_list<std::string>{"w", "s"},
                        {"wd"});
    dq.msg(5, onnx_attr_int("axis", axis));
    if (block != 0) dq.msg(5, onnx_attr_int("block_size", block));
    g.msg(1, dq).msg(1, onnx_node("mm", "MatMul", {"x", "wd"}, {"y"})).bytes(2, "g");
    g.msg(5, w).msg(5, scale);
    if (zero_point) g.msg(5, *zero_point);
    g.msg(11, onnx_value("x", {-1, 8})).msg(12, onnx_value("y", {-1, 4}));
    return onnx_model(g, opset);
}

} // namespace

TEST_CASE("parse_onnx: INT4 / UINT4 tensors and blocked DequantizeLinear (opset 21)") {
    // w [8, 4]: 32 values, 16 bytes, element 2k in the low nibble of byte k.
    std::string raw(16, '\0');
    std::vector<int> values(32);
    for (int i = 0; i < 32; ++i) {
        values[static_cast<std::size_t>(i)] = (i * 5) % 16 - 8; // −8…7
        const auto nib = static_cast<unsigned char>(values[static_cast<std::size_t>(i)] & 0x0f);
        raw[static_cast<std::size_t>(i / 2)] =
            static_cast<char>(static_cast<unsigned char>(raw[static_cast<std::size_t>(i / 2)]) |
                              (i % 2 ? nib << 4 : nib));
    }
    const auto w = raw_tensor("w", {8, 4}, onnx_int4, raw);
    std::string msg;

    SUBCASE("a good model reads, runs, and writes back bit-exactly") {
        const auto m = parse_onnx(int4_model(w, f32_tensor("s", {2, 4}, 0.5f), 0, 4), "ok.onnx");
        CHECK(m.weight("w").type() == dtype::i4);
        CHECK(m.weight("w").dims() == shape{8, 4});
        CHECK(std::string(static_cast<const char*>(m.weight("w").data()), 16) == raw);
        executor ex(m);
        bool int4_path = false;
        for (const auto& r : ex.report())
            int4_path |= r.path.rfind("int4 weight-only linear", 0) == 0;
        CHECK(int4_path); // MatMul [K, N] blocked along K: the kernel takes the transpose
        tensor x(dtype::f32, shape{2, 8});
        for (std::int64_t i = 0; i < 16; ++i)
            x.span<float>()[static_cast<std::size_t>(i)] = static_cast<float>(i % 5) - 2.0f;
        const auto y = std::move(ex.run(x.view()).at(0));
        for (int r = 0; r < 2; ++r)
            for (int n = 0; n < 4; ++n) {
                double ref = 0;
                for (int k = 0; k < 8; ++k)
                    ref += double(x.span<float>()[static_cast<std::size_t>(r * 8 + k)]) *
                           values[static_cast<std::size_t>(k * 4 + n)] * 0.5;
                CHECK(y.span<const float>()[static_cast<std::size_t>(r * 4 + n)] ==
                      doctest::Approx(ref).epsilon(1e-5));
            }
        const auto again = parse_onnx(serialize_onnx(m), "again.onnx");
        CHECK(same_bytes(again.weight("w"), m.weight("w")));
        CHECK(again.opset == 21);
    }
    SUBCASE("int32_data holding the packed bytes reads as raw_data does") {
        pb t;
        t.varint(1, 8).varint(1, 4).varint(2, onnx_int4).bytes(8, "w");
        for (const unsigned char c : raw)
            t.varint(5, c);
        const auto m = parse_onnx(int4_model(t, f32_tensor("s", {2, 4}, 0.5f), 0, 4), "i32.onnx");
        CHECK(std::string(static_cast<const char*>(m.weight("w").data()), 16) == raw);
        pb bad;
        bad.varint(1, 8).varint(1, 4).varint(2, onnx_int4).bytes(8, "w");
        for (int k = 0; k < 16; ++k)
            bad.varint(5, k == 3 ? 256 : 0);
        CHECK(
            code_of(
                [&] {
                    parse_onnx(int4_model(bad, f32_tensor("s", {2, 4}, 0.5f), 0, 4), "i32bad.onnx");
                },
                &msg) == status::format_error);
        CHECK(msg.find("'w'") != std::string::npos);
        CHECK(msg.find("int32_data[3]") != std::string::npos);
    }
    SUBCASE("an odd count: ceil(n/2) bytes, the unused high nibble cleared") {
        const auto m = parse_onnx(
            onnx_model(relu_graph().msg(5, raw_tensor("odd", {3}, onnx_uint4, "\x21\xf3"))),
            "odd.onnx");
        CHECK(m.weight("odd").type() == dtype::u4);
        CHECK(static_cast<const unsigned char*>(m.weight("odd").data())[1] == 0x03);
    }
    SUBCASE("short raw_data names the tensor and the packed size rule") {
        const auto cut = raw_tensor("w", {8, 4}, onnx_int4, raw.substr(0, 15));
        CHECK(
            code_of(
                [&] {
                    parse_onnx(int4_model(cut, f32_tensor("s", {2, 4}, 0.5f), 0, 4), "short.onnx");
                },
                &msg) == status::format_error);
        CHECK(msg.find("short.onnx") != std::string::npos);
        CHECK(msg.find("'w'") != std::string::npos);
        CHECK(msg.find("raw_data holds 15 bytes") != std::string::npos);
        CHECK(msg.find("= 16 bytes") != std::string::npos);
        // One byte too many is as wrong.
        const auto longer = raw_tensor("w", {8, 4}, onnx_int4, raw + "x");
        CHECK(code_of([&] {
                  parse_onnx(int4_model(longer, f32_tensor("s", {2, 4}, 0.5f), 0, 4), "long.onnx");
              }) == status::format_error);
    }
    SUBCASE("block_size that does not divide the axis, negative, or before opset 21") {
        CHECK(code_of(
                  [&] {
                      parse_onnx(int4_model(w, f32_tensor("s", {3, 4}, 0.5f), 0, 3), "block3.onnx");
                  },
                  &msg) == status::format_error);
        CHECK(msg.find("'dq'") != std::string::npos);
        CHECK(msg.find("block_size 3 does not divide") != std::string::npos);
        CHECK(code_of(
                  [&] {
                      parse_onnx(int4_model(w, f32_tensor("s", {2, 4}, 0.5f), 0, -4),
                                 "negative.onnx");
                  },
                  &msg) == status::format_error);
        CHECK(msg.find("block_size") != std::string::npos);
        const auto w8 = raw_tensor("w", {8, 4}, 3, std::string(32, '\1')); // INT8, opset 13
        CHECK(code_of(
                  [&] {
                      parse_onnx(int4_model(w8, f32_tensor("s", {2, 4}, 0.5f), 0, 4, nullptr, 13),
                                 "opset13.onnx");
                  },
                  &msg) == status::format_error);
        CHECK(msg.find("needs opset 21") != std::string::npos);
    }
    SUBCASE("scale and zero point shapes are cross-checked against x and block_size") {
        CHECK(code_of(
                  [&] {
                      parse_onnx(int4_model(w, f32_tensor("s", {2, 2}, 0.5f), 0, 4), "scale.onnx");
                  },
                  &msg) == status::format_error);
        CHECK(msg.find("scale 's'") != std::string::npos);
        CHECK(msg.find("[2, 2]") != std::string::npos);
        CHECK(msg.find("needs [2, 4]") != std::string::npos);
        // Blocked along axis 1 (4 / 2 = 2 blocks) needs [8, 2], not [2, 4].
        CHECK(code_of(
                  [&] {
                      parse_onnx(int4_model(w, f32_tensor("s", {2, 4}, 0.5f), 1, 2), "axis.onnx");
                  },
                  &msg) == status::format_error);
        CHECK(msg.find("needs [8, 2]") != std::string::npos);
        // Per axis (no block_size): [4] for axis 1, not [8].
        CHECK(code_of(
                  [&] {
                      parse_onnx(int4_model(w, f32_tensor("s", {8}, 0.5f), 1, 0), "peraxis.onnx");
                  },
                  &msg) == status::format_error);
        CHECK(msg.find("[4]") != std::string::npos);
        // Zero point: the scale's shape and x's type.
        const auto zshape = raw_tensor("z", {2, 2}, onnx_int4, std::string(2, '\0'));
        CHECK(code_of(
                  [&] {
                      parse_onnx(int4_model(w, f32_tensor("s", {2, 4}, 0.5f), 0, 4, &zshape),
                                 "zshape.onnx");
                  },
                  &msg) == status::format_error);
        CHECK(msg.find("zero point 'z'") != std::string::npos);
        const auto ztype = raw_tensor("z", {2, 4}, onnx_uint4, std::string(4, '\0'));
        CHECK(code_of(
                  [&] {
                      parse_onnx(int4_model(w, f32_tensor("s", {2, 4}, 0.5f), 0, 4, &ztype),
                                 "ztype.onnx");
                  },
                  &msg) == status::format_error);
        CHECK(msg.find("u4") != std::string::npos);
        CHECK(msg.find("i4") != std::string::npos);
        const auto zok = raw_tensor("z", {2, 4}, onnx_int4, std::string(4, '\0'));
        CHECK(code_of([&] {
                  parse_onnx(int4_model(w, f32_tensor("s", {2, 4}, 0.5f), 0, 4, &zok), "zok.onnx");
              }) == status::ok);
    }
}

TEST_CASE("parse_onnx: opset 18 ReduceMean takes its axes as an input") {
    pb g;
    g.msg(1,
          onnx_node("rm", "ReduceMean", {"x", "axes"}, {"y"}).msg(5, onnx_attr_int("keepdims", 0)))
        .bytes(2, "g");
    pb axes;
    axes.varint(1, 1).varint(2, 7).bytes(8, "axes").bytes(9, std::string("\x01\0\0\0\0\0\0\0", 8));
    g.msg(5, axes);
    g.msg(11, onnx_value("x", {-1, 4})).msg(12, onnx_value("y", {-1}));
    const auto m = parse_onnx(onnx_model(g, 18), "reduce18.onnx");
    executor ex(m);
    tensor x(dtype::f32, shape{2, 4});
    const float xv[] = {1, 2, 3, 4, -1, -2, -3, 10};
    std::copy(std::begin(xv), std::end(xv), x.span<float>().begin());
    const auto y = std::move(ex.run(x.view()).at(0));
    REQUIRE(y.dims() == shape{2});
    CHECK(y.span<const float>()[0] == doctest::Approx(2.5));
    CHECK(y.span<const float>()[1] == doctest::Approx(1.0));
}

TEST_CASE("load_onnx: mlp.onnx — graph, shapes, producer, opset and weights bit-exact") {
    const auto m = load_onnx(fixture("mlp.onnx"));
    CHECK(m.opset == 13);
    CHECK(m.source_opset == 13);
    CHECK(m.producer_name == "pytorch");
    REQUIRE(m.inputs.size() == 1);
    CHECK(m.inputs[0].name == "input");
    REQUIRE(m.inputs[0].dims.size() == 2);
    CHECK(!m.inputs[0].dims[0].is_static());
    CHECK(!m.inputs[0].dims[0].param.empty());
    CHECK(m.inputs[0].dims[1].size == 784);
    REQUIRE(m.outputs.size() == 1);
    CHECK(m.outputs[0].name == "logits");
    CHECK(m.nodes.size() == 5);
    CHECK(m.weight_count() == 6);
    for (const auto& [w, f] :
         std::vector<std::pair<const char*, const char*>>{{"fc1.weight", "mlp_fc1_weight.npy"},
                                                          {"fc1.bias", "mlp_fc1_bias.npy"},
                                                          {"fc2.weight", "mlp_fc2_weight.npy"},
                                                          {"fc3.bias", "mlp_fc3_bias.npy"}}) {
        const char* weight = w; // clang 14 cannot capture a structured binding
        CAPTURE(weight);
        REQUIRE(m.has_weight(w));
        CHECK(m.origin(w) == weight_origin::initializer);
        CHECK(same_bytes(m.weight(w), npy(f)));
    }
    CHECK(code_of([&] { (void)m.weight("nope"); }) == status::not_found);
}

TEST_CASE("load_onnx: Constant-node and external-data variants hold the same weights") {
    const auto base = load_onnx(fixture("mlp.onnx"));
    for (const auto& [file, origin] : std::vector<std::pair<const char*, weight_origin>>{
             {"mlp_constants.onnx", weight_origin::constant_node},
             {"mlp_external.onnx", weight_origin::external}}) {
        const char* variant = file; // clang 14 cannot capture a structured binding
        CAPTURE(variant);
        const auto m = load_onnx(fixture(file));
        int from_origin = 0;
        for (const auto& name : m.weight_names())
            from_origin += m.origin(name) == origin;
        CHECK(from_origin >= 3);
        const auto w1 = npy("mlp_fc1_weight.npy");
        bool found = false;
        for (const auto& name : m.weight_names())
            found |= same_bytes(m.weight(name), w1);
        CHECK(found);
    }
}

TEST_CASE(
    "save_onnx: load → save → load is bit-exact, passes onnx::checker, also with external data") {
    temp_dir tmp;
    for (const char* file :
         {"mlp.onnx", "mlp_constants.onnx", "mlp_external.onnx", "mobile_block.onnx",
          "tiny_encoder.onnx", "cnn.onnx", "cnn_opset9.onnx", "cnn_opset17.onnx"}) {
        CAPTURE(file);
        const auto a = load_onnx(fixture(file));
        for (const std::uint64_t threshold : {std::uint64_t(0), std::uint64_t(1024)}) {
            const auto out =
                tmp.path / (std::string("copy_") + std::to_string(threshold) + "_" + file);
            onnx_save_options so;
            so.external_threshold = threshold;
            save_onnx(a, out, so);
            CHECK_NOTHROW(check_onnx(out));
            CHECK(fs::exists(fs::path(out.string() + ".data")) == (threshold > 0));
            const auto b = load_onnx(out);
            REQUIRE(a.weight_names() == b.weight_names());
            for (const auto& name : a.weight_names())
                CHECK(same_bytes(a.weight(name), b.weight(name)));
            REQUIRE(a.nodes.size() == b.nodes.size());
            for (std::size_t i = 0; i < a.nodes.size(); ++i) {
                CHECK(a.nodes[i].op_type == b.nodes[i].op_type);
                CHECK(a.nodes[i].inputs == b.nodes[i].inputs);
                CHECK(a.nodes[i].outputs == b.nodes[i].outputs);
                CHECK(a.nodes[i].attributes.size() == b.nodes[i].attributes.size());
            }
            CHECK(b.opset == a.opset);
            CHECK(b.producer_name == a.producer_name);
            CHECK(b.inputs[0].dims.size() == a.inputs[0].dims.size());
        }
    }
}

TEST_CASE("parse_onnx: malformed files give format errors naming the file and the field") {
    temp_dir tmp;
    std::string msg;
    const auto good = read_file(fixture("mlp.onnx"));
    // Truncated, empty tail, garbage.
    CHECK(code_of([&] { parse_onnx(good.substr(0, good.size() / 2), "cut.onnx"); }, &msg) ==
          status::format_error);
    CHECK(msg.find("cut.onnx") != std::string::npos);
    CHECK(code_of([&] { parse_onnx(std::string(100, '\xff'), "junk.onnx"); }) ==
          status::format_error);
    CHECK(code_of([&] { parse_onnx("", "empty.onnx"); }) == status::format_error);

    // raw_data length ≠ dims × element size.
    auto g = relu_graph();
    g.msg(5, onnx_tensor("w", {2, 3}, {1, 2, 3, 4, 5}));
    CHECK(code_of([&] { parse_onnx(onnx_model(g), "raw.onnx"); }, &msg) == status::format_error);
    CHECK(msg.find("'w'") != std::string::npos);
    CHECK(msg.find("raw_data") != std::string::npos);
    // Overflowing dims.
    g = relu_graph();
    g.msg(5, onnx_tensor("big", {1LL << 40, 1LL << 40}, {}));
    CHECK(code_of([&] { parse_onnx(onnx_model(g), "big.onnx"); }, &msg) == status::format_error);
    CHECK(msg.find("big") != std::string::npos);
    // Duplicate initializer names.
    g = relu_graph();
    g.msg(5, onnx_tensor("w", {1}, {1})).msg(5, onnx_tensor("w", {1}, {2}));
    CHECK(code_of([&] { parse_onnx(onnx_model(g), "dup.onnx"); }, &msg) == status::format_error);
    CHECK(msg.find("'w'") != std::string::npos);
    // A value produced twice.
    g = relu_graph();
    g.msg(1, onnx_node("relu2", "Relu", {"x"}, {"y"}));
    CHECK(code_of([&] { parse_onnx(onnx_model(g), "twice.onnx"); }, &msg) == status::format_error);
    CHECK(msg.find("'y'") != std::string::npos);
    // Duplicate node names.
    g = relu_graph();
    g.msg(1, onnx_node("relu", "Relu", {"y"}, {"z"}));
    CHECK(code_of([&] { parse_onnx(onnx_model(g), "names.onnx"); }, &msg) == status::format_error);
    CHECK(msg.find("'relu'") != std::string::npos);
    // Missing input.
    g = relu_graph();
    g.msg(1, onnx_node("add", "Add", {"y", "nowhere"}, {"z"}));
    CHECK(code_of([&] { parse_onnx(onnx_model(g), "missing.onnx"); }, &msg) ==
          status::format_error);
    CHECK(msg.find("'nowhere'") != std::string::npos);
    CHECK(msg.find("missing.onnx") != std::string::npos);
    // A cycle: a = Relu(b), b = Relu(a).
    g = relu_graph();
    g.msg(1, onnx_node("ra", "Relu", {"b"}, {"a"})).msg(1, onnx_node("rb", "Relu", {"a"}, {"b"}));
    CHECK(code_of([&] { parse_onnx(onnx_model(g), "cycle.onnx"); }, &msg) == status::format_error);
    CHECK(msg.find("cycle") != std::string::npos);
    CHECK((msg.find("'ra'") != std::string::npos || msg.find("'rb'") != std::string::npos));
    // Opsets outside 9..17.
    CHECK(code_of([&] { parse_onnx(onnx_model(relu_graph(), 8), "old.onnx"); }, &msg) ==
          status::unsupported);
    CHECK(msg.find("opset") != std::string::npos);
    CHECK(code_of([&] { parse_onnx(onnx_model(relu_graph(), 22), "new.onnx"); }) ==
          status::unsupported);
    CHECK(code_of([&] { parse_onnx(onnx_model(relu_graph(), 21), "opset21.onnx"); }) == status::ok);
    // No graph at all.
    CHECK(code_of([&] {
              parse_onnx(pb().varint(1, 8).msg(8, pb().varint(2, 13)).str(), "nograph.onnx");
          }) == status::format_error);
}

TEST_CASE("parse_onnx: external data must stay inside the model folder") {
    temp_dir tmp;
    const auto dir = tmp.path / "model";
    fs::create_directories(dir / "sub");
    const std::vector<float> data{1, 2, 3, 4};
    write_file_atomic(dir / "w.bin", std::string(reinterpret_cast<const char*>(data.data()), 16));
    write_file_atomic(dir / "sub" / "w.bin",
                      std::string(reinterpret_cast<const char*>(data.data()), 16));
    write_file_atomic(tmp.path / "outside.bin",
                      std::string(reinterpret_cast<const char*>(data.data()), 16));
    fs::create_symlink(tmp.path / "outside.bin", dir / "link.bin");
    auto with = [&](const std::string& location, std::uint64_t offset = 0,
                    std::uint64_t length = 16) {
        auto g = relu_graph();
        g.msg(5, onnx_external_tensor("w", {4}, location, offset, length));
        return onnx_model(g);
    };
    std::string msg;
    // Inside: fine, also through a sub-folder and a harmless "./".
    for (const char* ok : {"w.bin", "sub/w.bin", "./w.bin"}) {
        CAPTURE(ok);
        const auto m = parse_onnx(with(ok), "ext.onnx", dir);
        CHECK(m.weight("w").span<float>()[3] == 4.0f);
        CHECK(m.origin("w") == weight_origin::external);
    }
    for (const std::string& bad :
         {std::string("/etc/passwd"), (tmp.path / "outside.bin").string(),
          std::string("../outside.bin"), std::string("sub/../../outside.bin"),
          std::string("link.bin"), std::string("absent.bin"), std::string("sub")}) {
        CAPTURE(bad);
        CHECK(code_of([&] { parse_onnx(with(bad), "ext.onnx", dir); }, &msg) ==
              status::format_error);
        CHECK(msg.find("ext.onnx") != std::string::npos);
        CHECK(msg.find("'w'") != std::string::npos);
    }
    // Offsets and lengths outside the side file, or disagreeing with the dims.
    CHECK(code_of([&] { parse_onnx(with("w.bin", 4, 16), "ext.onnx", dir); }, &msg) ==
          status::format_error);
    CHECK(code_of([&] { parse_onnx(with("w.bin", 0, 12), "ext.onnx", dir); }, &msg) ==
          status::format_error);
    CHECK(msg.find("length") != std::string::npos);
    CHECK(code_of([&] { parse_onnx(with("w.bin", ~0ULL - 3, 16), "ext.onnx", dir); }) ==
          status::format_error);
    // Without a folder (bytes only), or with external data disabled.
    CHECK(code_of([&] { parse_onnx(with("w.bin"), "ext.onnx"); }) == status::format_error);
    CHECK(code_of([&] {
              parse_onnx(with("w.bin"), "ext.onnx", dir, {.allow_external_data = false});
          }) == status::unsupported);
}

TEST_CASE("parse_onnx: opset 9 attributes are normalized to their opset-13 inputs") {
    // x [N, 3, 4] → Clip(min=-1, max=2 as attributes) → Unsqueeze(axes=[1] attribute)
    //   → Squeeze(axes=[1]) → Softmax(axis=1: coerced to 2-D [N, 12]) → y
    pb g;
    g.msg(1, onnx_node("clip", "Clip", {"x"}, {"c"})
                 .msg(5, onnx_attr_float("min", -1))
                 .msg(5, onnx_attr_float("max", 2)));
    g.msg(1, onnx_node("unsq", "Unsqueeze", {"c"}, {"u"}).msg(5, onnx_attr_ints("axes", {1})));
    g.msg(1, onnx_node("sq", "Squeeze", {"u"}, {"s"}).msg(5, onnx_attr_ints("axes", {1})));
    g.msg(1, onnx_node("soft", "Softmax", {"s"}, {"y"}).msg(5, onnx_attr_int("axis", 1)));
    g.bytes(2, "g").msg(11, onnx_value("x", {-1, 3, 4})).msg(12, onnx_value("y", {-1, 3, 4}));
    const auto m = parse_onnx(onnx_model(g, 9), "old.onnx");
    CHECK(m.source_opset == 9);
    CHECK(m.opset == 13);
    const auto* clip = m.find_node("clip");
    REQUIRE(clip);
    CHECK(clip->attributes.empty());
    REQUIRE(clip->inputs.size() == 3);
    CHECK(m.weight(clip->inputs[1]).span<float>()[0] == -1.0f);
    CHECK(m.weight(clip->inputs[2]).span<float>()[0] == 2.0f);
    REQUIRE(m.find_node("unsq")->inputs.size() == 2);
    CHECK(m.weight(m.find_node("unsq")->inputs[1]).span<std::int64_t>()[0] == 1);
    // The saved form is valid opset 13.
    temp_dir tmp;
    save_onnx(m, tmp.path / "new.onnx");
    CHECK_NOTHROW(check_onnx(tmp.path / "new.onnx"));
    // And it computes the opset-9 meaning: softmax over all 12 values of each sample.
    executor ex(m);
    tensor x(dtype::f32, shape{2, 3, 4});
    auto xs = x.span<float>();
    for (std::size_t i = 0; i < xs.size(); ++i)
        xs[i] = static_cast<float>(i % 7) - 3.0f;
    const auto ys = ex.run(x.view());
    const auto& y = ys.at(0);
    REQUIRE(y.dims() == shape({2, 3, 4}));
    for (int n = 0; n < 2; ++n) {
        double z = 0;
        for (int k = 0; k < 12; ++k)
            z += std::exp(std::clamp(xs[static_cast<std::size_t>(n * 12 + k)], -1.0f, 2.0f));
        for (int k = 0; k < 12; ++k) {
            const auto i = static_cast<std::size_t>(n * 12 + k);
            CHECK(y.span<float>()[i] ==
                  doctest::Approx(std::exp(std::clamp(xs[i], -1.0f, 2.0f)) / z).epsilon(1e-6));
        }
    }
}

TEST_CASE("fuzz_onnx int4 seeds (made by onnx 1.12's protobuf classes) read, run and round-trip") {
    const auto dir = fixtures_dir().parent_path() / "fuzz/corpus/fuzz_onnx";
    for (const char* name :
         {"int4_matmul_blocked.onnx", "uint4_gemm_zero_points.onnx", "int4_int32_data_odd.onnx"}) {
        CAPTURE(name);
        const auto m = load_onnx(dir / name);
        CHECK(m.source_opset == 21);
        executor ex(m);
        const auto k = m.inputs[0].dims[1].size;
        tensor x(dtype::f32, shape{2, k});
        for (std::int64_t i = 0; i < x.numel(); ++i)
            x.span<float>()[static_cast<std::size_t>(i)] = 0.25f * static_cast<float>(i % 7);
        executor_options no_kernel;
        no_kernel.qdq_int4_kernel = false;
        const auto a = std::move(ex.run(x.view()).at(0));
        const auto b = std::move(executor(m, no_kernel).run(x.view()).at(0));
        for (std::int64_t i = 0; i < a.numel(); ++i)
            CHECK(
                a.span<const float>()[static_cast<std::size_t>(i)] ==
                doctest::Approx(b.span<const float>()[static_cast<std::size_t>(i)]).epsilon(1e-5));
        const auto again = parse_onnx(serialize_onnx(m), "again");
        for (const auto& w : m.weight_names())
            CHECK(same_bytes(again.weight(w), m.weight(w)));
    }
}
