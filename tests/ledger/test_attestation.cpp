// DSSE's PAE and base64 against the DSSE specification's example and RFC 4648's test vectors;
// the statement's shape. (The envelope's signature is verified with independent code in
// tests/cli/verify_dsse.py, test_cli_attestation.)
#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "hone/ledger/attestation.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

TEST_CASE("PAE and base64") {
    // The example of the DSSE protocol document.
    CHECK(hone::dsse_pae("http://example.com/HelloWorld", "hello world") ==
          "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
    CHECK(hone::dsse_pae("", "") == "DSSEv1 0  0 ");
    // RFC 4648, section 10.
    CHECK(hone::base64_encode("") == "");
    CHECK(hone::base64_encode("f") == "Zg==");
    CHECK(hone::base64_encode("fo") == "Zm8=");
    CHECK(hone::base64_encode("foo") == "Zm9v");
    CHECK(hone::base64_encode("foob") == "Zm9vYg==");
    CHECK(hone::base64_encode("fooba") == "Zm9vYmE=");
    CHECK(hone::base64_encode("foobar") == "Zm9vYmFy");
    CHECK(hone::base64_encode(std::string("\xff\xfe\x00", 3)) == "//4A");
}

TEST_CASE("an optimize record as an in-toto Statement with SLSA provenance") {
    hone::ledger_entry base, opt;
    base.seq = 1;
    base.record.action = hone::ledger_action::baseline;
    base.record.artifacts = {{"base.onnx", std::string(64, 'b'), 10}};
    opt.seq = 2;
    opt.time = "2026-12-05T19:00:00Z";
    opt.record.action = hone::ledger_action::optimize;
    opt.record.artifacts = {{"int8.onnx", std::string(64, 'c'), 5}};
    opt.record.recipe = R"({"name":"int8"})";
    opt.record.policy = R"({"tier":"low"})";
    opt.record.environment = R"({"isa":"avx2"})";
    opt.record.data = R"({"calibration":{"files":[{"path":"train.gz","sha256":")" +
                      std::string(64, 'd') +
                      R"(","bytes":1}]},"evaluation":{"files":[{"path":"t10k.gz","sha256":")" +
                      std::string(64, 'e') + R"(","bytes":2}]}})";
    opt.record.note = "baseline record 1";
    const std::vector<hone::ledger_entry> entries{base, opt};
    const auto st = nlohmann::json::parse(hone::in_toto_statement(entries, 2, "l.jsonl"));
    CHECK(st["_type"] == "https://in-toto.io/Statement/v1");
    CHECK(st["predicateType"] == "https://slsa.dev/provenance/v1");
    CHECK(st["subject"][0]["name"] == "int8.onnx");
    CHECK(st["subject"][0]["digest"]["sha256"] == std::string(64, 'c'));
    const auto& build = st["predicate"]["buildDefinition"];
    CHECK(build["externalParameters"]["recipe"]["name"] == "int8");
    CHECK(build["externalParameters"]["policy"]["tier"] == "low");
    const auto& deps = build["resolvedDependencies"];
    REQUIRE(deps.size() == 3);
    CHECK(deps[0]["name"] == "base.onnx");
    CHECK(deps[0]["annotations"]["role"] == "base model");
    CHECK(deps[1]["annotations"]["role"] == "calibration");
    CHECK(deps[1]["digest"]["sha256"] == std::string(64, 'd'));
    CHECK(deps[2]["annotations"]["role"] == "evaluation");
    CHECK(st["predicate"]["runDetails"]["metadata"]["invocationId"] == "l.jsonl#2");
    CHECK(st["predicate"]["runDetails"]["builder"]["version"].contains("hone"));
    opt.record.metrics = R"({"accuracy":{"delta_interval":[-0.01,0.002]}})";
    opt.record.decision = R"({"verdict":"approved"})";
    opt.line = "the stored line";
    const std::vector<hone::ledger_entry> with_metrics{base, opt};
    const auto v = nlohmann::json::parse(hone::validation_statement(with_metrics, 2, "l.jsonl"));
    CHECK(v["predicateType"] == hone::validation_predicate_type);
    CHECK(v["subject"] == st["subject"]);
    CHECK(v["predicate"]["metrics"]["accuracy"]["delta_interval"][0] == -0.01);
    CHECK(v["predicate"]["policy"]["tier"] == "low");
    CHECK(v["predicate"]["decision"]["verdict"] == "approved");
    CHECK(v["predicate"]["ledger"]["seq"] == 2);
    CHECK(v["predicate"]["ledger"]["record_sha256"] == hone::sha256_hex("the stored line"));
    CHECK_THROWS_WITH_AS(hone::in_toto_statement(entries, 1, "l.jsonl"),
                         doctest::Contains("record 1 is not an optimize record"), hone::error);
}
