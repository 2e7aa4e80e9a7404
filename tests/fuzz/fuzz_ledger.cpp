// Fuzzes the ledger reader, its verifier (records and head file) and the evidence exports with
// arbitrary bytes: input = ledger text, optionally "\0" and a head file. verify() must report,
// read() return entries or throw hone::error, and the CycloneDX and in-toto builders, given any
// optimize record read back, return a document or throw hone::error — never crash.
#include <hone/core/error.hpp>
#include <hone/ledger/attestation.hpp>
#include <hone/ledger/cyclonedx.hpp>
#include <hone/ledger/ledger.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

void put(const fs::path& path, std::string_view bytes) { // no fsync: speed matters here
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fs::path dir = [] {
        const fs::path d =
            fs::temp_directory_path() / ("hone-fuzz-ledger-" + std::to_string(::getpid()));
        fs::create_directories(d);
        return d;
    }();
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto split = input.find('\0');
    const fs::path path = dir / "l.jsonl";
    put(path, input.substr(0, split));
    if (split == std::string_view::npos)
        fs::remove(dir / "l.jsonl.head");
    else
        put(dir / "l.jsonl.head", input.substr(split + 1));
    const hone::ledger l(path);
    const hone::verify_report report = l.verify();
    if (report.ok && !report.problem.empty()) __builtin_trap();
    try {
        const auto entries = l.read();
        for (const auto& e : entries) {
            if (e.record.action != hone::ledger_action::optimize) continue;
            const std::uint64_t seq = static_cast<std::uint64_t>(&e - entries.data()) + 1;
            try {
                if (hone::cyclonedx_bom(entries, seq, "l.jsonl").empty()) __builtin_trap();
            } catch (const hone::error&) {
            }
            try {
                hone::in_toto_statement(entries, seq, "l.jsonl");
                hone::validation_statement(entries, seq, "l.jsonl");
            } catch (const hone::error&) {
            }
        }
        l.check_bytes("weights");
    } catch (const hone::error&) {
    }
    return 0;
}
