// Exit codes and the command line run in-process: usage errors, --json, one-line errors.
#include "cli_app.hpp"
#include "cli_run.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"

#include <hone/core/atomic_file.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using namespace hone::cli;
using namespace cli_test;

TEST_CASE("exit codes are distinct and stable") {
    CHECK(exit_code_for(hone::verdict::approved) == 0);
    CHECK(exit_code_for(hone::verdict::needs_signoff) == 10);
    CHECK(exit_code_for(hone::verdict::rejected) == 20);
    CHECK(exit_code_for(hone::artifact_verdict::approved) == 0);
    CHECK(exit_code_for(hone::artifact_verdict::needs_signoff) == 10);
    CHECK(exit_code_for(hone::artifact_verdict::rejected) == 20);
    CHECK(exit_code_for(hone::artifact_verdict::unknown) == 30);
    CHECK(exit_code_for(hone::status::ok) == 0);
    CHECK(exit_code_for(hone::status::io_error) == 1);
    CHECK(exit_code_for(hone::status::format_error) == 1);
    CHECK(exit_code_for(hone::status::verification_failed) == 30);
    CHECK(exit_code_name(10) == "needs_signoff");
    CHECK(exit_code_name(30) == "not_verified");
    CHECK(exit_code_name(7) == "unknown");
    CHECK(std::string(exit_code_help).find("10  needs sign-off") != std::string::npos);
}

TEST_CASE("help and usage errors") {
    auto r = hone_cli({"--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("Exit codes:") != std::string::npos);
    CHECK(r.out.find("keygen") != std::string::npos);
    r = hone_cli({"ledger", "verify", "--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("--require-signatures") != std::string::npos);
    r = hone_cli({"--version"});
    CHECK(r.code == 0);
    CHECK(r.out.find("hone ") == 0);
    r = hone_cli({"--json", "optimise", "m.onnx"});
    CHECK(r.code == 1);
    CHECK(r.err == "hone: unknown subcommand 'optimise' (see hone --help)\n");
    CHECK(nlohmann::json::parse(r.out)["error"]["status"] == "invalid_argument");
    for (const auto& args : std::vector<std::vector<std::string>>{
             {},
             {"ledger"},
             {"check", "model.bin"},
             {"ledger", "show", "x.jsonl", "--seq", "0"},
             {"ledger", "approve", "x.jsonl", "--seq", "two", "--actor", "a"},
             {"keygen", "--out", "k.pem", "--bogus"}}) {
        r = hone_cli(args);
        CHECK(r.code == 1);
        CHECK(lines(r.err) == 1);
        CHECK(r.err.find("hone: ") == 0);
        CHECK(r.out.empty());
    }
}

TEST_CASE("--trust values") {
    const std::string key(64, 'a');
    auto o = trust_options({"alice=" + key, "bob=" + std::string(64, 'B')}, true);
    CHECK(o.require_signatures);
    CHECK(o.trusted_keys.at("alice") == key);
    CHECK(o.trusted_keys.at("bob") == std::string(64, 'b')); // lower-cased
    CHECK(trust_options({"team=ops=" + key}, false).trusted_keys.count("team=ops") == 1);
    for (const std::string& bad : std::vector<std::string>{
             "alice", "=" + key, "alice=" + key.substr(1), "alice=" + std::string(63, 'a') + "g"})
        CHECK_THROWS_WITH_AS(trust_options({bad}, false), doctest::Contains("--trust '"),
                             hone::error);
    CHECK_THROWS_WITH_AS(trust_options({"a=" + key, "a=" + std::string(64, 'c')}, false),
                         doctest::Contains("two different keys"), hone::error);
}

TEST_CASE("keygen, a record, show, verify and check in-process, with --json") {
    temp_dir t("app");
    const std::string pem = (t.path / "k.pem").string();
    auto r = hone_cli({"--json", "keygen", "--out", pem});
    REQUIRE(r.code == 0);
    const auto key_json = nlohmann::json::parse(r.out);
    const std::string public_key = key_json["public_key"];
    CHECK((fs::status(pem).permissions() & fs::perms::group_read) == fs::perms::none);

    // One approved optimize record made through the library.
    const fs::path ledger_path = t.path / "l.jsonl", model = t.path / "m.bin";
    hone::write_file_atomic(model, "weights");
    hone::ledger l(ledger_path);
    hone::change_record rec;
    rec.action = hone::ledger_action::optimize;
    rec.actor = "svc <ci>";
    rec.artifacts.push_back(hone::hash_file(model));
    rec.decision = R"({"verdict":"approved","reasons":[]})";
    const auto signer = hone::signing_key::load_pem(pem);
    l.append(rec, &signer);

    r = hone_cli({"ledger", "show", ledger_path.string()});
    CHECK(r.code == 0);
    CHECK(r.out.find("svc <ci>") != std::string::npos);
    CHECK(r.out.find("approved") != std::string::npos);
    r = hone_cli({"--json", "ledger", "show", ledger_path.string()});
    CHECK(r.code == 0);
    CHECK(lines(r.out) == 1);
    const auto shown = nlohmann::json::parse(r.out);
    CHECK(shown["records"].size() == 1);
    CHECK(shown["verifies"] == true);
    r = hone_cli({"ledger", "verify", ledger_path.string(), "--trust", "svc <ci>=" + public_key,
                  "--require-signatures"});
    CHECK(r.code == 0);
    r = hone_cli({"--json", "check", model.string(), "--ledger", ledger_path.string()});
    CHECK(r.code == 0);
    CHECK(nlohmann::json::parse(r.out)["verdict"] == "approved");
    // Approving an approved-by-policy record is allowed; approving it twice is not.
    r = hone_cli(
        {"ledger", "approve", ledger_path.string(), "--seq", "1", "--actor", "ann", "--key", pem});
    CHECK(r.code == 0);
    r = hone_cli(
        {"ledger", "approve", ledger_path.string(), "--seq", "1", "--actor", "ann", "--key", pem});
    CHECK(r.code == 1);
    CHECK(r.err.find("already approved record 1") != std::string::npos);
    // An unsigned approval is recorded with a warning.
    r = hone_cli({"ledger", "approve", ledger_path.string(), "--seq", "1", "--actor", "bo"});
    CHECK(r.code == 0);
    CHECK(r.err.find("does not count") != std::string::npos);
    r = hone_cli({"ledger", "show", ledger_path.string(), "--seq", "3"});
    CHECK(r.code == 0);
    CHECK(r.out.find("subject") != std::string::npos);
    // Errors in --json mode: one line on stderr, one object on stdout.
    r = hone_cli({"--json", "ledger", "verify", (t.path / "none.jsonl").string()});
    CHECK(r.code == 1);
    CHECK(lines(r.err) == 1);
    CHECK(nlohmann::json::parse(r.out)["error"]["status"] == "io_error");
}
