// The holes of issue 19, each closed: one key under two names, the optimizer approving its own
// change, unknown keys (strict and not), approvals replayed and records moved between ledgers,
// a truncated ledger, concurrent approvals, and a stored decision edited and re-signed.
//
// Forged ledgers are written here without hone's ledger code (nlohmann_json's sorted, compact
// dump is the canonical form; signatures by signing_key::sign), so check() meets records the
// append rules would have refused.
#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "hone/ledger/ledger.hpp"
#include "optimize_fixture.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct scratch_dir {
    fs::path path;
    explicit scratch_dir(const std::string& name)
        : path(fs::temp_directory_path() /
               ("hone-governance-" + name + "-" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~scratch_dir() { fs::remove_all(path); }
};

std::vector<std::string> lines_of(const fs::path& file) {
    std::vector<std::string> out;
    const std::string text = fs::exists(file) ? hone::read_file(file) : std::string();
    for (std::size_t s = 0, e; (e = text.find('\n', s)) != std::string::npos; s = e + 1)
        out.push_back(text.substr(s, e - s));
    return out;
}

/// Writes the lines and a head file consistent with them, signed with `head_key` (the way
/// docs/ledger.md describes: Ed25519 over "hone-ledger-head-v1 <records> <sha256>").
void write_lines(const fs::path& file, const std::vector<std::string>& lines,
                 const hone::signing_key* head_key = nullptr) {
    std::string text;
    for (const auto& l : lines)
        text += l + "\n";
    hone::write_file_atomic(file, text);
    const std::string last = lines.empty() ? std::string(64, '0') : hone::sha256_hex(lines.back());
    json head = {{"records", lines.size()}, {"sha256", last}};
    if (head_key)
        head["signature"] = {{"public_key", head_key->public_key_hex()},
                             {"value", head_key->sign("hone-ledger-head-v1 " +
                                                      std::to_string(lines.size()) + " " + last)}};
    hone::write_file_atomic(file.string() + ".head", head.dump() + "\n");
}

/// Signs a record (seq, prev and signature replaced) the way docs/ledger.md describes.
std::string seal(json record, std::uint64_t seq, const std::string& prev,
                 const hone::signing_key* key) {
    record.erase("signature");
    record["seq"] = seq;
    record["prev"] = prev;
    if (key)
        record["signature"] = {{"public_key", key->public_key_hex()},
                               {"value", key->sign(record.dump())}};
    return record.dump();
}

/// Appends a record bypassing every rule of ledger::append.
void forge_append(const fs::path& file, json record, const hone::signing_key* key) {
    auto lines = lines_of(file);
    const std::string prev = lines.empty() ? std::string(64, '0') : hone::sha256_hex(lines.back());
    lines.push_back(seal(std::move(record), lines.size() + 1, prev, key));
    write_lines(file, lines, key);
}

json approval_json(std::uint64_t subject, const std::string& actor) {
    return {{"action", "approve"}, {"actor", actor},       {"artifacts", json::array()},
            {"data", nullptr},     {"decision", nullptr},  {"environment", nullptr},
            {"metrics", nullptr},  {"note", "looks fine"}, {"policy", nullptr},
            {"recipe", nullptr},   {"subject", subject},   {"time", "2026-12-05T19:00:00Z"}};
}

hone::change_record approval(std::uint64_t subject, const std::string& actor,
                             hone::ledger_action action = hone::ledger_action::approve) {
    hone::change_record r;
    r.action = action;
    r.actor = actor;
    r.subject = subject;
    return r;
}

struct team {
    hone::signing_key ci = hone::signing_key::generate();
    hone::signing_key alice = hone::signing_key::generate();
    hone::signing_key bob = hone::signing_key::generate();
    hone::signing_key mallory = hone::signing_key::generate(); // in no trust store
    hone::trust_store store = hone::trust_store::parse(
        "ci optimizer " + ci.public_key_hex() + "\nalice approver " + alice.public_key_hex() +
        "\nbob approver:low,approver:high " + bob.public_key_hex() + "\n");
};

/// A ledger whose record 1 is an optimize record of `model` signed by the CI key.
hone::ledger make(const fs::path& file, const fs::path& model, const team& t,
                  const std::string& verdict, unsigned approvals, const std::string& tier = "low") {
    hone::write_file_atomic(model, "model bytes " + model.filename().string());
    hone::ledger l(file);
    l.append(fixture::optimize(hone::hash_file(model), verdict, approvals, tier), &t.ci);
    return l;
}

} // namespace

TEST_CASE("one key under two names approves once") {
    scratch_dir dir("two-names");
    const team t;
    const fs::path file = dir.path / "l.jsonl", model = dir.path / "m.bin";
    auto l = make(file, model, t, "needs_signoff", 2);
    l.append(approval(1, "alice"), &t.alice);
    CHECK_THROWS_WITH_AS(l.append(approval(1, "bob"), &t.alice),
                         doctest::Contains("this key already approved record 1 in record 2"),
                         hone::error);
    CHECK(lines_of(file).size() == 2); // nothing written
    // A ledger that holds it anyway: the second approval does not count.
    forge_append(file, approval_json(1, "bob"), &t.alice);
    REQUIRE(l.verify().ok);
    const auto s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::needs_signoff);
    CHECK(s.approvals_counted == 1);
    CHECK(s.approvals_missing == 1);
    REQUIRE(s.approvals.size() == 2);
    CHECK(s.approvals[1].why == "this key already approved in record 2");
    // With a trust store, two keys of one holder count once too.
    const auto alice2 = hone::signing_key::generate();
    const auto store = hone::trust_store::parse(
        "ci optimizer " + t.ci.public_key_hex() + "\nalice approver " + t.alice.public_key_hex() +
        "\nalice approver " + alice2.public_key_hex() + "\n");
    forge_append(file, approval_json(1, "alice (laptop)"), &alice2);
    hone::verify_options o;
    o.trust = &store;
    const auto trusted = l.check_artifact(model, o);
    CHECK(trusted.verdict == hone::artifact_verdict::needs_signoff);
    CHECK(trusted.approvals_counted == 1);
    CHECK(trusted.approvals[2].why == "'alice' already approved in record 2");
    CHECK(l.check_artifact(model).verdict == hone::artifact_verdict::approved); // 2 keys, no store
}

TEST_CASE("the optimizer cannot approve its own change") {
    scratch_dir dir("self");
    const team t;
    const fs::path file = dir.path / "l.jsonl", model = dir.path / "m.bin";
    auto l = make(file, model, t, "needs_signoff", 1);
    CHECK_THROWS_WITH_AS(l.append(approval(1, "reviewer"), &t.ci),
                         doctest::Contains("separation of duties"), hone::error);
    forge_append(file, approval_json(1, "reviewer"), &t.ci);
    auto s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::needs_signoff);
    CHECK(s.approvals[0].why.find("signed the change") != std::string::npos);
    // Another key of the optimizer's holder is refused too, with a trust store.
    const auto ci2 = hone::signing_key::generate();
    const auto store = hone::trust_store::parse("ci optimizer,approver " + t.ci.public_key_hex() +
                                                "\nci approver " + ci2.public_key_hex() + "\n");
    CHECK_THROWS_WITH_AS(l.append(approval(1, "ci"), &ci2, &store),
                         doctest::Contains("'ci' signed record 1"), hone::error);
    forge_append(file, approval_json(1, "ci"), &ci2);
    hone::verify_options o;
    o.trust = &store;
    s = l.check_artifact(model, o);
    CHECK(s.verdict == hone::artifact_verdict::needs_signoff);
    CHECK(s.approvals[1].why == "'ci' signed the change and cannot approve it");
    CHECK(s.signer_holder == "ci");
}

TEST_CASE("an approval by an unknown key: not counted, refused in strict mode") {
    scratch_dir dir("unknown");
    const team t;
    const fs::path file = dir.path / "l.jsonl", model = dir.path / "m.bin";
    auto l = make(file, model, t, "needs_signoff", 1);
    CHECK_THROWS_WITH_AS(l.append(approval(1, "mallory"), &t.mallory, &t.store),
                         doctest::Contains("is not in trust store"), hone::error);
    CHECK_THROWS_WITH_AS(l.append(approval(1, "anon"), nullptr, &t.store),
                         doctest::Contains("unsigned approve is refused"), hone::error);
    l.append(approval(1, "mallory"), &t.mallory); // without a trust store nothing knows better
    CHECK(l.check_artifact(model).verdict == hone::artifact_verdict::approved);
    hone::verify_options o;
    o.trust = &t.store;
    auto s = l.check_artifact(model, o);
    CHECK(s.verdict == hone::artifact_verdict::needs_signoff);
    CHECK(s.approvals[0].why.find("is not in the trust store") != std::string::npos);
    o.strict = true;
    s = l.check_artifact(model, o);
    CHECK(s.verdict == hone::artifact_verdict::unknown);
    CHECK(s.reason.find("line 2") != std::string::npos);
    CHECK_FALSE(l.verify(o).ok);
    // An approver of another tier does not count either.
    const auto other = hone::trust_store::parse("ci optimizer " + t.ci.public_key_hex() +
                                                "\nmallory approver:critical " +
                                                t.mallory.public_key_hex() + "\n");
    o.trust = &other;
    s = l.check_artifact(model, o);
    CHECK(s.verdict == hone::artifact_verdict::needs_signoff);
    CHECK(s.approvals[0].why == "'mallory' is not an approver for tier 'low'");
    l.append(approval(1, "bob"), &t.bob);
    o.trust = &t.store;
    o.strict = false;
    CHECK(l.check_artifact(model, o).verdict == hone::artifact_verdict::approved);
}

TEST_CASE("high and critical tiers are strict by default") {
    scratch_dir dir("strict");
    const team t;
    const fs::path file = dir.path / "l.jsonl", model = dir.path / "m.bin";
    auto l = make(file, model, t, "needs_signoff", 1, "high");
    l.append(approval(1, "bob"), &t.bob, &t.store);
    auto s = l.check_artifact(model); // no trust store: every key is unknown
    CHECK(s.verdict == hone::artifact_verdict::unknown);
    CHECK(s.reason.find("strict mode (tier 'high')") != std::string::npos);
    hone::verify_options o;
    o.trust = &t.store;
    s = l.check_artifact(model, o);
    CHECK(s.verdict == hone::artifact_verdict::approved);
    CHECK(s.strict);
    l.append(approval(1, "someone")); // unsigned: no approval, but a record strict mode refuses
    s = l.check_artifact(model, o);
    CHECK(s.verdict == hone::artifact_verdict::unknown);
    CHECK(s.reason.find("line 3: unsigned record by 'someone'") != std::string::npos);
    CHECK_FALSE(l.verify(o).ok); // verify with a trust store is strict for such a ledger too
    CHECK(l.verify().ok);        // without one it checks integrity only
}

TEST_CASE("an approval replayed from another ledger, a record moved between ledgers") {
    scratch_dir dir("replay");
    const team t;
    const fs::path a = dir.path / "a.jsonl", b = dir.path / "b.jsonl";
    const fs::path model = dir.path / "m.bin";
    auto la = make(a, model, t, "needs_signoff", 1);
    la.append(approval(1, "bob"), &t.bob);
    CHECK(la.check_artifact(model).verdict == hone::artifact_verdict::approved);
    // Ledger b: the same change, not approved; a's approval line copied in as it is.
    hone::ledger lb(b);
    lb.append(hone::change_record{.action = hone::ledger_action::baseline, .actor = "ci"}, &t.ci);
    lb.append(fixture::optimize(hone::hash_file(model), "needs_signoff", 1), &t.ci);
    REQUIRE(lb.check_artifact(model).verdict == hone::artifact_verdict::needs_signoff);
    auto lines = lines_of(b);
    lines.push_back(lines_of(a).at(1));
    write_lines(b, lines);
    auto s = lb.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::unknown);
    CHECK(lb.verify().first_bad == 3);
    // Re-chained (seq, prev, subject fitted to b) without b's signer's key: the signature fails.
    json replayed = json::parse(lines_of(a).at(1));
    const json signature = replayed["signature"];
    replayed["subject"] = 2;
    lines.back() = seal(replayed, 3, hone::sha256_hex(lines.at(1)), nullptr);
    json fitted = json::parse(lines.back());
    fitted["signature"] = signature;
    lines.back() = fitted.dump();
    write_lines(b, lines);
    const auto report = lb.verify();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad == 3);
    CHECK(report.problem == "bad signature");
    CHECK(lb.check_artifact(model).verdict == hone::artifact_verdict::unknown);
    // a's optimize record moved into a third ledger: its prev does not chain.
    const fs::path c = dir.path / "c.jsonl";
    hone::ledger lc(c);
    lc.append(hone::change_record{.action = hone::ledger_action::baseline, .actor = "ci"}, &t.ci);
    auto c_lines = lines_of(c);
    c_lines.push_back(lines_of(a).at(0));
    write_lines(c, c_lines);
    const auto moved = lc.verify();
    CHECK_FALSE(moved.ok);
    CHECK(moved.first_bad == 2);
    CHECK(moved.problem.find("seq") != std::string::npos);
    CHECK(lc.check_artifact(model).verdict == hone::artifact_verdict::unknown);
}

TEST_CASE("a ledger truncated at its end") {
    scratch_dir dir("truncated");
    const team t;
    const fs::path file = dir.path / "l.jsonl", model = dir.path / "m.bin";
    auto l = make(file, model, t, "needs_signoff", 1);
    l.append(approval(1, "bob"), &t.bob);
    const std::string head_before_reject = hone::read_file(file.string() + ".head");
    l.append(approval(1, "alice", hone::ledger_action::reject), &t.alice);
    const std::string full_head = hone::read_file(file.string() + ".head");
    const auto full = l.check_artifact(model);
    REQUIRE(full.verdict == hone::artifact_verdict::rejected);
    auto lines = lines_of(file);
    lines.pop_back(); // the reject removed, the head file left alone
    std::string text;
    for (const auto& x : lines)
        text += x + "\n";
    hone::write_file_atomic(file, text);
    auto s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::unknown);
    CHECK_FALSE(s.chain_ok);
    CHECK(s.reason.find("head file") != std::string::npos);
    CHECK(s.reason.find("removed") != std::string::npos);
    // The head rewritten too, consistent with the cut: bob signed the last remaining record, so
    // the head must carry his signature. Unsigned, or signed by another key: detected.
    write_lines(file, lines);
    s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::unknown);
    CHECK_FALSE(s.chain_ok);
    CHECK(s.reason.find("head file is not signed, but the last record (2) is") !=
          std::string::npos);
    write_lines(file, lines, &t.mallory);
    s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::unknown);
    CHECK(s.reason.find("not by the key that signed the last record (2)") != std::string::npos);
    CHECK(l.verify().first_bad == 0);
    // A head signature copied from the full ledger's head onto the shorter head: does not verify.
    json head = json::parse(hone::read_file(file.string() + ".head"));
    head["signature"] = json::parse(full_head)["signature"];
    hone::write_file_atomic(file.string() + ".head", head.dump() + "\n");
    CHECK(l.verify().problem == "head file signature does not verify");
    // The limit (docs/ledger.md): bob's own head of the two-record ledger, saved before the
    // reject and put back, is genuine — a rollback to an earlier state. The ledger alone cannot
    // tell; the reported head moved, so an engine that pins the head it last saw notices.
    hone::write_file_atomic(file.string() + ".head", head_before_reject);
    s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::approved);
    CHECK(s.chain_records == 2);
    CHECK(s.chain_head != full.chain_head);
    CHECK(s.chain_head == hone::sha256_hex(lines.back()));
    // With the head the engine accepted last pinned, the rollback is refused.
    hone::verify_options pinned;
    pinned.pinned_records = full.chain_records;
    pinned.pinned_head = full.chain_head;
    s = l.check_artifact(model, pinned);
    CHECK(s.verdict == hone::artifact_verdict::unknown);
    CHECK(s.reason.find("fewer than the 3 of the pinned head") != std::string::npos);
    // A pin below the end is extended by the ledger; a pin the ledger does not hold is refused.
    pinned.pinned_records = 1;
    pinned.pinned_head = hone::sha256_hex(lines.front());
    CHECK(l.verify(pinned).ok);
    pinned.pinned_head = hone::sha256_hex(lines.back());
    const auto report = l.verify(pinned);
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad == 1);
    CHECK(report.problem.find("record 1 is not the pinned head") != std::string::npos);
}

TEST_CASE("two approve processes at once: nothing lost, the chain intact") {
    scratch_dir dir("concurrent");
    const team t;
    const fs::path file = dir.path / "l.jsonl", model = dir.path / "m.bin";
    make(file, model, t, "needs_signoff", 2);
    // Each child approves with its own key and then tries again with the shared one: the lock
    // serializes them, so exactly one shared-key approval lands whatever the interleaving.
    const auto shared = hone::signing_key::generate();
    std::vector<pid_t> children;
    for (int p = 0; p < 2; ++p) {
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int code = 0;
            try {
                hone::ledger l(file);
                l.append(approval(1, "own-" + std::to_string(p)), p == 0 ? &t.alice : &t.bob);
                try {
                    l.append(approval(1, "shared-" + std::to_string(p)), &shared);
                    code = 10; // landed
                } catch (const hone::error&) {
                    code = 20; // refused: the other process's approval was there
                }
            } catch (...) {
                code = 1;
            }
            ::_exit(code);
        }
        children.push_back(pid);
    }
    int landed = 0, refused = 0;
    for (pid_t pid : children) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        REQUIRE(WIFEXITED(status));
        landed += WEXITSTATUS(status) == 10;
        refused += WEXITSTATUS(status) == 20;
    }
    CHECK(landed == 1);
    CHECK(refused == 1);
    hone::ledger l(file);
    const auto report = l.verify();
    CHECK(report.ok);
    CHECK(report.records == 4);
    const auto s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::approved);
    CHECK(s.approvals_counted == 3);
}

TEST_CASE("a stored decision edited and re-signed with the same key is refused") {
    scratch_dir dir("decision");
    const team t;
    const fs::path file = dir.path / "l.jsonl", model = dir.path / "m.bin";
    // Tier low, candidate at 80% against 90%: a 10-point drop, beyond the 2-point bound.
    auto l = make(file, model, t, "rejected", 0);
    REQUIRE(l.check_artifact(model).verdict == hone::artifact_verdict::rejected);
    auto lines = lines_of(file);
    json record = json::parse(lines.at(0));
    CHECK(record["decision"]["verdict"] == "rejected");
    record["decision"]["verdict"] = "approved";
    lines[0] = seal(record, 1, std::string(64, '0'), &t.ci);
    write_lines(file, lines, &t.ci);
    REQUIRE(l.verify().ok); // chain, signature and head all fine: only re-derivation sees it
    auto s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::unknown);
    CHECK_FALSE(s.decision_rederived);
    CHECK(s.reason ==
          "record 1: its stored verdict 'approved' disagrees with the verdict 'rejected' "
          "re-derived from its metrics and policy; refused");
    // needs_signoff with 2 approvals, lowered to 1 in the stored decision.
    const fs::path file2 = dir.path / "l2.jsonl", model2 = dir.path / "m2.bin";
    auto l2 = make(file2, model2, t, "needs_signoff", 2);
    lines = lines_of(file2);
    record = json::parse(lines.at(0));
    record["decision"]["approvals_required"] = 1;
    lines[0] = seal(record, 1, std::string(64, '0'), &t.ci);
    write_lines(file2, lines, &t.ci);
    l2.append(approval(1, "bob"), &t.bob);
    s = l2.check_artifact(model2);
    CHECK(s.verdict == hone::artifact_verdict::unknown);
    CHECK(s.reason.find("approvals_required 1 disagrees with 2") != std::string::npos);
    // A record whose policy or metrics are missing cannot be re-derived: refused as well.
    const fs::path file3 = dir.path / "l3.jsonl";
    hone::ledger l3(file3);
    auto r = fixture::optimize(hone::hash_file(model), "approved");
    r.metrics = "null";
    l3.append(r, &t.ci);
    s = l3.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::unknown);
    CHECK(s.reason.find("cannot be re-derived") != std::string::npos);
}

TEST_CASE("promote: only an approved change, once") {
    scratch_dir dir("promote");
    const team t;
    const fs::path file = dir.path / "l.jsonl", model = dir.path / "m.bin";
    auto l = make(file, model, t, "needs_signoff", 1);
    CHECK_THROWS_WITH_AS(l.append(approval(1, "ops", hone::ledger_action::promote), &t.ci),
                         doctest::Contains("only an approved change can be promoted"), hone::error);
    l.append(approval(1, "bob"), &t.bob);
    l.append(approval(1, "ops", hone::ledger_action::promote), &t.ci);
    CHECK_THROWS_WITH_AS(l.append(approval(1, "ops", hone::ledger_action::promote), &t.ci),
                         doctest::Contains("already promoted in record 3"), hone::error);
    CHECK(l.check_artifact(model).verdict == hone::artifact_verdict::approved);
    // A reject after promotion still wins.
    l.append(approval(1, "alice", hone::ledger_action::reject), &t.alice);
    CHECK(l.check_artifact(model).verdict == hone::artifact_verdict::rejected);
}

TEST_CASE("the load-time check on bytes and on a file descriptor reports what it verified") {
    scratch_dir dir("bytes");
    const team t;
    const fs::path file = dir.path / "l.jsonl", model = dir.path / "m.bin";
    auto l = make(file, model, t, "needs_signoff", 1);
    l.append(approval(1, "bob"), &t.bob);
    const std::string bytes = hone::read_file(model);
    hone::verify_options o;
    o.trust = &t.store;
    const auto s = l.check_bytes(bytes, o);
    CHECK(s.verdict == hone::artifact_verdict::approved);
    CHECK(s.artifact.sha256 == hone::sha256_hex(bytes));
    const json j = json::parse(s.to_json());
    CHECK(j["verdict"] == "approved");
    CHECK(j["matched_record"] == 1);
    CHECK(j["chain"]["intact"] == true);
    CHECK(j["chain"]["records_verified"] == 2);
    CHECK(j["chain"]["head_sha256"] == hone::sha256_hex(lines_of(file).back()));
    CHECK(j["optimize_signer"]["holder"] == "ci");
    CHECK(j["optimize_signer"]["public_key"] == t.ci.public_key_hex());
    CHECK(j["decision_rederived"] == true);
    CHECK(j["tier"] == "low");
    CHECK(j["approvals"]["required"] == 1);
    CHECK(j["approvals"]["counted"] == 1);
    CHECK(j["approvals"]["records"][0]["holder"] == "bob");
    CHECK(l.check_bytes(bytes + "x", o).verdict == hone::artifact_verdict::unknown);
    const int fd = ::open(model.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::lseek(fd, 3, SEEK_SET) == 3);
    CHECK(l.check_fd(fd, o).verdict == hone::artifact_verdict::approved);
    CHECK(::lseek(fd, 0, SEEK_CUR) == 3);
    ::close(fd);
    CHECK_THROWS_AS(l.check_fd(fd, o), hone::error); // closed
}
