// Exit codes and the command line run in-process: usage errors, --json, one-line errors.
#include "../ledger/optimize_fixture.hpp"
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

TEST_CASE("--trust FILE, --strict") {
    temp_dir t("trust");
    const fs::path file = t.path / "trust";
    hone::write_file_atomic(file, "ops optimizer " + std::string(64, 'A') + " # the CI\n");
    const trust_context trust(file, true, true);
    REQUIRE(trust.options.trust != nullptr);
    CHECK(trust.options.require_signatures);
    CHECK(trust.options.strict);
    CHECK(trust.options.trust->find(std::string(64, 'a'))->holder == "ops"); // lower-cased
    CHECK(trust_context({}, false, false).options.trust == nullptr);
    hone::write_file_atomic(file, "\nops optimizer,approver:urgent " + std::string(64, 'a'));
    CHECK_THROWS_WITH_AS(
        trust_context(file, false, false),
        doctest::Contains("line 2, field 2 (roles): unknown role 'approver:urgent'"), hone::error);
    CHECK_THROWS_AS(trust_context(t.path / "none", false, false), hone::error);
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
    hone::change_record rec = fixture::optimize(hone::hash_file(model), "approved");
    rec.actor = "svc <ci>";
    const auto signer = hone::signing_key::load_pem(pem);
    l.append(rec, &signer);
    const std::string ann_pem = (t.path / "ann.pem").string();
    REQUIRE(hone_cli({"keygen", "--out", ann_pem}).code == 0);
    const fs::path trust = t.path / "trust";
    hone::write_file_atomic(trust, "svc optimizer " + public_key + "\n");

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
    r = hone_cli({"ledger", "verify", ledger_path.string(), "--trust", trust.string(),
                  "--require-signatures", "--strict"});
    CHECK(r.code == 0);
    r = hone_cli({"--json", "check", model.string(), "--ledger", ledger_path.string()});
    CHECK(r.code == 0);
    CHECK(nlohmann::json::parse(r.out)["verdict"] == "approved");
    // Approving an approved-by-policy record is allowed; approving it twice, or with the key
    // that signed the change, is not.
    r = hone_cli(
        {"ledger", "approve", ledger_path.string(), "--seq", "1", "--actor", "ann", "--key", pem});
    CHECK(r.code == 1);
    CHECK(r.err.find("separation of duties") != std::string::npos);
    r = hone_cli({"ledger", "approve", ledger_path.string(), "--seq", "1", "--actor", "ann",
                  "--key", ann_pem});
    CHECK(r.code == 0);
    r = hone_cli({"ledger", "approve", ledger_path.string(), "--seq", "1", "--actor", "ann2",
                  "--key", ann_pem});
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
