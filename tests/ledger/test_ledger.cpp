// The change ledger: chain, canonical form, signatures, approvals, tampering, concurrency.
#include "hone/core/atomic_file.hpp"
#include "hone/core/error.hpp"
#include "hone/ledger/ledger.hpp"
#include "optimize_fixture.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

struct scratch_dir {
    fs::path path;
    explicit scratch_dir(const std::string& name)
        : path(fs::temp_directory_path() /
               ("hone-ledger-" + name + "-" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~scratch_dir() { fs::remove_all(path); }
};

hone::ledger make_ledger(const fs::path& file) {
    hone::ledger l(file);
    l.set_clock([] { return std::string("2026-11-27T09:00:00Z"); });
    return l;
}

fs::path write_artifact(const fs::path& dir, const char* name, const std::string& bytes) {
    const fs::path p = dir / name;
    hone::write_file_atomic(p, bytes);
    return p;
}

hone::change_record approval(std::uint64_t subject, const std::string& actor,
                             hone::ledger_action action = hone::ledger_action::approve) {
    hone::change_record r;
    r.action = action;
    r.actor = actor;
    r.subject = subject;
    r.note = "reviewed the slice report";
    return r;
}

// Plain overwrite (no fsync): the tamper test rewrites the files thousands of times.
void overwrite(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

} // namespace

TEST_CASE("records chain, read back, and verify") {
    scratch_dir dir("chain");
    auto l = make_ledger(dir.path / "changes.jsonl");
    CHECK(l.verify().ok); // an absent ledger is an empty, valid one
    const auto model = write_artifact(dir.path, "model.onnx", "candidate bytes");
    hone::change_record base;
    base.actor = "alice";
    base.metrics = R"({"accuracy": 0.8931, "latency_ms": {"p50": 1.25}})";
    const auto e1 = l.append(base);
    const auto e2 = l.append(fixture::optimize(hone::hash_file(model), "approved"));
    CHECK(e1.seq == 1);
    CHECK(e1.prev == std::string(64, '0'));
    CHECK(e2.prev == hone::sha256_hex(e1.line));
    // canonical: sorted keys, no whitespace, numbers as given in shortest form
    CHECK(e1.line.find(R"("metrics":{"accuracy":0.8931,"latency_ms":{"p50":1.25}})") !=
          std::string::npos);
    CHECK(e1.line.find(' ') == std::string::npos);
    CHECK(e1.line.rfind(R"({"action":"baseline","actor":"alice","artifacts":[])", 0) == 0);
    const auto entries = l.read();
    REQUIRE(entries.size() == 2);
    CHECK(entries[1].record.artifacts.at(0).sha256 == hone::sha256_hex("candidate bytes"));
    CHECK(entries[1].record.decision.find(R"("verdict":"approved")") != std::string::npos);
    CHECK(entries[0].time == "2026-11-27T09:00:00Z");
    const auto report = l.verify();
    CHECK(report.ok);
    CHECK(report.records == 2);
    CHECK(l.check_artifact(model).verdict == hone::artifact_verdict::approved);
}

TEST_CASE("every single-byte change, deletion, duplication and swap is detected") {
    scratch_dir dir("tamper");
    const fs::path file = dir.path / "changes.jsonl";
    auto l = make_ledger(file);
    const auto key = hone::signing_key::generate();
    const auto model = write_artifact(dir.path, "m.bin", "weights");
    l.append(fixture::optimize(hone::hash_file(model), "needs_signoff", 1));
    l.append(approval(1, "bob"), &key);
    l.append(approval(1, "carol"));
    REQUIRE(l.verify().ok);
    const std::string original = hone::read_file(file);
    const fs::path head = file.string() + ".head";
    const std::string original_head = hone::read_file(head);
    int undetected = 0, checked = 0;
    auto expect_detected = [&](const std::string& content, const std::string& head_content) {
        overwrite(file, content);
        overwrite(head, head_content);
        ++checked;
        if (l.verify().ok) ++undetected;
    };
    for (std::size_t i = 0; i < original.size(); ++i) {
        std::string changed = original;
        changed[i] = static_cast<char>(changed[i] ^ 0x01);
        expect_detected(changed, original_head);
    }
    for (std::size_t i = 0; i < original_head.size(); ++i) {
        std::string changed = original_head;
        changed[i] = static_cast<char>(changed[i] ^ 0x01);
        expect_detected(original, changed);
    }
    std::vector<std::string> lines;
    for (std::size_t s = 0, e; (e = original.find('\n', s)) != std::string::npos; s = e + 1)
        lines.push_back(original.substr(s, e - s + 1));
    REQUIRE(lines.size() == 3);
    auto join = [](const std::vector<std::string>& v) {
        std::string out;
        for (const auto& x : v)
            out += x;
        return out;
    };
    for (std::size_t i = 0; i < lines.size(); ++i) {
        auto removed = lines;
        removed.erase(removed.begin() + static_cast<long>(i));
        expect_detected(join(removed), original_head);
        auto duplicated = lines;
        duplicated.insert(duplicated.begin() + static_cast<long>(i), lines[i]);
        expect_detected(join(duplicated), original_head);
        if (i + 1 < lines.size()) {
            auto swapped = lines;
            std::swap(swapped[i], swapped[i + 1]);
            expect_detected(join(swapped), original_head);
        }
    }
    expect_detected(original.substr(0, original.size() - 1), original_head); // torn last line
    overwrite(file, original);
    fs::remove(head);
    ++checked;
    if (l.verify().ok) ++undetected;
    CHECK(undetected == 0);
    CHECK(checked > 1000);
    // appending to a tampered ledger is refused and changes nothing
    CHECK_THROWS_AS(l.append(approval(1, "dave")), hone::error);
    CHECK(hone::read_file(file) == original);
    hone::write_file_atomic(head, original_head);
    CHECK(l.verify().ok);
}

TEST_CASE("the report names the first bad record") {
    scratch_dir dir("report");
    const fs::path file = dir.path / "l.jsonl";
    auto l = make_ledger(file);
    for (int i = 0; i < 4; ++i)
        l.append(approval(0, "x", hone::ledger_action::baseline) /*no subject needed*/);
    std::string content = hone::read_file(file);
    const auto second = content.find('\n') + 1;
    content.replace(content.find("\"actor\":\"x\"", second), 11, "\"actor\":\"y\"");
    hone::write_file_atomic(file, content);
    const auto report = l.verify();
    CHECK_FALSE(report.ok);
    CHECK(report.first_bad == 3); // record 2 changed: record 3's prev no longer matches
    CHECK(report.records == 2);
    CHECK(report.problem.find("prev") != std::string::npos);
}

TEST_CASE("signatures: trusted keys, required signatures") {
    scratch_dir dir("sign");
    auto l = make_ledger(dir.path / "l.jsonl");
    const auto bob = hone::signing_key::generate();
    const auto mallory = hone::signing_key::generate();
    l.append(
        fixture::optimize(hone::hash_file(write_artifact(dir.path, "m", "w")), "needs_signoff"));
    l.append(approval(1, "bob"), &bob);
    CHECK(l.verify().ok);
    CHECK(l.verify({{{"bob", bob.public_key_hex()}}, false}).ok);
    const auto wrong = l.verify({{{"bob", mallory.public_key_hex()}}, false});
    CHECK_FALSE(wrong.ok);
    CHECK(wrong.first_bad == 2);
    CHECK(wrong.problem.find("not signed by its trusted key") != std::string::npos);
    const auto required = l.verify({{}, true});
    CHECK_FALSE(required.ok);
    CHECK(required.first_bad == 1);
    l.append(approval(1, "bob", hone::ledger_action::reject), &mallory); // mallory signs as bob
    CHECK(l.verify().ok); // a valid signature by some key...
    CHECK(l.verify({{{"bob", bob.public_key_hex()}}, false}).first_bad == 3); // ...not bob's
}

TEST_CASE("check_artifact: sign-off, rejection, unknown bytes") {
    scratch_dir dir("check");
    auto l = make_ledger(dir.path / "l.jsonl");
    const auto alice = hone::signing_key::generate();
    const auto bob = hone::signing_key::generate();
    const auto model = write_artifact(dir.path, "model.onnx", "int8 model");
    l.append(fixture::optimize(hone::hash_file(model), "needs_signoff", 2));
    auto s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::needs_signoff);
    CHECK(s.approvals_missing == 2);
    CHECK(s.decision_rederived);
    CHECK(s.tier == "low");
    l.append(approval(1, "alice"), &alice);
    CHECK_THROWS_WITH_AS(l.append(approval(1, "alice"), &alice),
                         doctest::Contains("one key approves once"), hone::error);
    l.append(approval(1, "carol")); // unsigned: recorded, does not count
    s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::needs_signoff);
    CHECK(s.approvals_missing == 1);
    REQUIRE(s.approvals.size() == 2);
    CHECK(s.approvals[1].why == "unsigned");
    l.append(approval(1, "bob"), &bob);
    s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::approved);
    CHECK(s.seq == 1);
    CHECK(s.approvals_counted == 2);
    const hone::verify_options trusted{
        {{"alice", alice.public_key_hex()}, {"bob", bob.public_key_hex()}}, false};
    CHECK(l.check_artifact(model, trusted).verdict == hone::artifact_verdict::approved);
    const auto other = write_artifact(dir.path, "other.onnx", "int8 model!");
    CHECK(l.check_artifact(other).verdict == hone::artifact_verdict::unknown);
    // A reject after approvals wins; an approval after a reject is refused.
    l.append(approval(1, "bob", hone::ledger_action::reject), &bob);
    s = l.check_artifact(model);
    CHECK(s.verdict == hone::artifact_verdict::rejected);
    CHECK(s.reason.find("bob") != std::string::npos);
    const auto dave = hone::signing_key::generate();
    CHECK_THROWS_WITH_AS(l.append(approval(1, "dave"), &dave), doctest::Contains("cannot undo"),
                         hone::error);
    const auto rejected = write_artifact(dir.path, "bad.onnx", "pruned model");
    l.append(fixture::optimize(hone::hash_file(rejected), "rejected"));
    CHECK(l.check_artifact(rejected).verdict == hone::artifact_verdict::rejected);
    CHECK_THROWS_WITH_AS(l.append(approval(6, "dave")), doctest::Contains("rejected by its policy"),
                         hone::error);
}

TEST_CASE("bad input is refused with clear errors; nothing is written") {
    scratch_dir dir("bad");
    const fs::path file = dir.path / "l.jsonl";
    auto l = make_ledger(file);
    hone::change_record r;
    CHECK_THROWS_WITH_AS(l.append(r), doctest::Contains("needs an actor"), hone::error);
    r.actor = "a";
    r.metrics = "{\"accuracy\": 0.9";
    CHECK_THROWS_WITH_AS(l.append(r), doctest::Contains("metrics is not valid JSON"), hone::error);
    r.metrics = "1e999";
    CHECK_THROWS_AS(l.append(r), hone::error);
    r.metrics = "null";
    r.action = hone::ledger_action::approve;
    CHECK_THROWS_WITH_AS(l.append(r), doctest::Contains("needs a subject"), hone::error);
    r.subject = 5;
    CHECK_THROWS_WITH_AS(l.append(r), doctest::Contains("subject 5"), hone::error);
    r.subject = 0;
    CHECK_THROWS_WITH_AS(l.append(r), doctest::Contains("subject 0"), hone::error);
    CHECK_FALSE(fs::exists(file));
    std::ofstream(file) << "{\"seq\":1}\n";
    try {
        l.read();
        FAIL("no error");
    } catch (const hone::error& e) {
        CHECK(e.code() == hone::status::format_error);
        CHECK(std::string(e.what()).find("l.jsonl' line 1: no field") != std::string::npos);
    }
    CHECK_FALSE(l.verify().ok);
}

TEST_CASE("concurrent appends from several processes lose nothing") {
    scratch_dir dir("concurrent");
    const fs::path file = dir.path / "l.jsonl";
    constexpr int processes = 4, appends = 8;
    std::vector<pid_t> children;
    for (int p = 0; p < processes; ++p) {
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int code = 0;
            try {
                hone::ledger l(file);
                for (int i = 0; i < appends; ++i) {
                    hone::change_record r;
                    r.actor = "worker-" + std::to_string(p);
                    r.note = std::to_string(i);
                    l.append(r);
                }
            } catch (...) {
                code = 1;
            }
            ::_exit(code);
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    hone::ledger l(file);
    const auto report = l.verify();
    CHECK(report.ok);
    CHECK(report.records == processes * appends);
}
