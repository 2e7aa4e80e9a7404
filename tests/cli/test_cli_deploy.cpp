// The deployable file's helpers (src/cli/deploy.hpp): --format names, quantization specs as
// hone's packed safetensors records them, and how a file hone wrote says it runs.
#include "deploy.hpp"

#include <hone/core/error.hpp>

#include <doctest/doctest.h>

using namespace hone;
using namespace hone::pipeline;
using nlohmann::json;

TEST_CASE("--format: the three names and nothing else") {
    CHECK(parse_artifact_format("qdq") == artifact_format::qdq);
    CHECK(parse_artifact_format("matmulnbits") == artifact_format::matmulnbits);
    CHECK(parse_artifact_format("hone") == artifact_format::hone);
    for (const auto f : {artifact_format::qdq, artifact_format::matmulnbits, artifact_format::hone})
        CHECK(parse_artifact_format(name_of(f)) == f);
    CHECK_THROWS_WITH_AS(parse_artifact_format("QDQ"), doctest::Contains("--format 'QDQ'"), error);
}

TEST_CASE("spec_json / spec_from_json: every field round-trips; malformed objects are refused") {
    quant_spec s;
    s.bits = 4;
    s.is_signed = false;
    s.symmetric = false;
    s.granularity = quant_granularity::per_group;
    s.channel_axis = 1;
    s.group_axis = 0;
    s.group_size = 112;
    s.scale_type = dtype::f16;
    const auto back = spec_from_json(spec_json(s), "w");
    CHECK(back.bits == 4);
    CHECK_FALSE(back.is_signed);
    CHECK_FALSE(back.symmetric);
    CHECK(back.granularity == quant_granularity::per_group);
    CHECK(back.channel_axis == 1);
    CHECK(back.group_axis == 0);
    CHECK(back.group_size == 112);
    CHECK(back.scale_type == dtype::f16);
    auto j = spec_json(s);
    j.erase("bits");
    CHECK_THROWS_WITH_AS(spec_from_json(j, "fc1.weight"), doctest::Contains("fc1.weight"), error);
    j = spec_json(s);
    j["scale_type"] = "f64x";
    CHECK_THROWS_WITH_AS(spec_from_json(j, "fc1.weight"), doctest::Contains("scale_type"), error);
    j = spec_json(s);
    j["bits"] = "four";
    CHECK_THROWS_AS(spec_from_json(j, "fc1.weight"), error);
}

TEST_CASE("run_options_of: the execution a file hone wrote records; f32 for any other") {
    model m;
    CHECK(run_options_of(m).precision == exec_precision::f32);
    m.doc = "not json at all";
    CHECK(run_options_of(m).precision == exec_precision::f32);
    m.doc = json{{"hone",
                  {{"execution", "int8 static"},
                   {"f32_nodes", {"fc3"}},
                   {"activation_ranges", {{"x", {-1.0, 2.0}}}}}}}
                .dump();
    const auto o = run_options_of(m);
    CHECK(o.precision == exec_precision::int8_static);
    CHECK(o.f32_nodes == std::vector<std::string>{"fc3"});
    REQUIRE(o.activation_ranges.count("x") == 1);
    CHECK(o.activation_ranges.at("x").lo == -1.0f);
    CHECK(o.activation_ranges.at("x").hi == 2.0f);
    m.doc = json{{"hone", {{"execution", "int8 dynamic"}, {"f32_nodes", "fc3"}}}}.dump();
    m.source = "cand.onnx";
    CHECK_THROWS_WITH_AS(run_options_of(m), doctest::Contains("cand.onnx"), error);
    m.doc = json{{"hone", {{"activation_ranges", {{"x", {1.0}}}}}}}.dump();
    CHECK_THROWS_AS(run_options_of(m), error);
    // Packed weights named by the file but no side file beside it: not_found naming both.
    m.doc = json{{"hone", {{"packed_weights", {{"fc1.weight", "int4"}}}}}}.dump();
    CHECK_NOTHROW(run_options_of(m)); // no path: nothing to read
    CHECK_THROWS_WITH_AS(run_options_of(m, "/nonexistent/dir/cand.onnx"),
                         doctest::Contains("/nonexistent/dir/weights.safetensors"), error);
}
