// cli_fixture — what the CLI tests need made through the C++ API (the `hone` binary has no
// optimize yet in this test's scope):
//   cli_fixture ledger LEDGER ARTIFACT ACTOR KEY.pem VERDICT [APPROVALS [TIER]]
//       writes ARTIFACT (some bytes) and ARTIFACT.base (the base model), and appends a signed
//       baseline record listing the base model and a signed optimize
//       record listing it, with metrics and a policy (tier low by default) whose decision is
//       VERDICT (approved | needs_signoff | rejected)
//   cli_fixture report DIR KEY.pem
//       validates the toy sample (sample_report.hpp) and writes DIR/report.json, .html
//   cli_fixture png-stats FILE.png RRGGBB
//       decodes an 8-bit RGB/RGBA PNG and prints "WIDTH HEIGHT DISTINCT_COLOURS MATCHES",
//       MATCHES = pixels of exactly colour RRGGBB
//   cli_fixture flip SRC DST OFFSET
//       writes DST: SRC with the byte at OFFSET xor 0x01 (a one-byte edit)
#include "../ledger/optimize_fixture.hpp"
#include "sample_report.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/io/digest.hpp>

#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>

namespace fs = std::filesystem;

namespace {

int make_ledger(int argc, char** argv) {
    if (argc < 7)
        throw std::runtime_error("usage: ledger LEDGER ARTIFACT ACTOR KEY VERDICT [N [TIER]]");
    const fs::path ledger_path = argv[2], artifact = argv[3];
    const std::string actor = argv[4], verdict = argv[6];
    const int approvals = argc > 7 ? std::atoi(argv[7]) : 1;
    const std::string tier = argc > 8 ? argv[8] : "low";
    const auto key = hone::signing_key::load_pem(argv[5]);
    std::string bytes;
    for (int i = 0; i < 4096; ++i)
        bytes += static_cast<char>((i * 131 + 7) & 0xff);
    hone::write_file_atomic(artifact, bytes);
    hone::ledger ledger(ledger_path);
    hone::change_record base;
    base.action = hone::ledger_action::baseline;
    base.actor = actor;
    base.metrics = R"({"accuracy":0.9,"model_bytes":4096})";
    base.note = "baseline made by cli_fixture";
    const fs::path base_model = artifact.string() + ".base";
    hone::write_file_atomic(base_model, bytes + "f32");
    base.artifacts.push_back(hone::hash_file(base_model));
    ledger.append(base, &key);
    hone::change_record record = fixture::optimize(hone::hash_file(artifact), verdict,
                                                   static_cast<unsigned>(approvals), tier);
    record.actor = actor;
    record.note = "candidate made by cli_fixture";
    const auto e = ledger.append(record, &key);
    std::printf("%llu\n", static_cast<unsigned long long>(e.seq));
    return 0;
}

int make_report(int argc, char** argv) {
    if (argc < 4) throw std::runtime_error("usage: report DIR KEY");
    const fs::path dir = argv[2];
    fs::create_directories(dir);
    const auto key = hone::signing_key::load_pem(argv[3]);
    const auto made = sample::make(dir / "ledger.jsonl", key);
    hone::pipeline::write_report(dir, hone::pipeline::report_json(made.inputs));
    std::printf("%s\n", (dir / "report.html").c_str());
    return 0;
}

std::uint32_t be32(const std::string& s, std::size_t at) {
    return (std::uint32_t(std::uint8_t(s[at])) << 24) |
           (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

int png_stats(int argc, char** argv) {
    if (argc < 4) throw std::runtime_error("usage: png-stats FILE RRGGBB");
    const std::string png = hone::read_file(argv[2]);
    const auto want = static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 16));
    if (png.size() < 33 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0)
        throw std::runtime_error("not a PNG file");
    std::uint32_t width = 0, height = 0;
    int channels = 0;
    std::string idat;
    for (std::size_t at = 8; at + 8 <= png.size();) {
        const std::uint32_t length = be32(png, at);
        const std::string type = png.substr(at + 4, 4);
        if (at + 12 + length > png.size()) throw std::runtime_error("truncated chunk");
        if (type == "IHDR") {
            width = be32(png, at + 8);
            height = be32(png, at + 12);
            const int depth = png[at + 16], colour = png[at + 17], interlace = png[at + 20];
            if (depth != 8 || (colour != 2 && colour != 6) || interlace != 0)
                throw std::runtime_error("only 8-bit RGB/RGBA, non-interlaced PNGs");
            channels = colour == 2 ? 3 : 4;
        } else if (type == "IDAT") {
            idat += png.substr(at + 8, length);
        }
        at += 12 + length;
    }
    if (channels == 0 || width == 0 || height == 0) throw std::runtime_error("no image header");
    const std::size_t stride = std::size_t(width) * channels;
    std::string raw((stride + 1) * height, '\0');
    uLongf raw_size = raw.size();
    if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_size,
                   reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK ||
        raw_size != raw.size())
        throw std::runtime_error("bad image data");
    std::vector<std::uint8_t> prev(stride, 0), cur(stride);
    std::set<std::uint32_t> colours;
    std::uint64_t matches = 0;
    for (std::uint32_t r = 0; r < height; ++r) {
        const auto* line = reinterpret_cast<const std::uint8_t*>(raw.data()) + r * (stride + 1);
        const int filter = line[0];
        for (std::size_t i = 0; i < stride; ++i) {
            const int a = i >= std::size_t(channels) ? cur[i - channels] : 0;
            const int b = prev[i];
            const int c = i >= std::size_t(channels) ? prev[i - channels] : 0;
            int predictor = 0;
            switch (filter) {
            case 0: predictor = 0; break;
            case 1: predictor = a; break;
            case 2: predictor = b; break;
            case 3: predictor = (a + b) / 2; break;
            case 4: {
                const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b),
                          pc = std::abs(p - c);
                predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                break;
            }
            default: throw std::runtime_error("bad filter type");
            }
            cur[i] = static_cast<std::uint8_t>(line[1 + i] + predictor);
        }
        for (std::size_t x = 0; x < width; ++x) {
            const std::uint32_t rgb = (std::uint32_t(cur[x * channels]) << 16) |
                                      (std::uint32_t(cur[x * channels + 1]) << 8) |
                                      cur[x * channels + 2];
            if (colours.size() < 100000) colours.insert(rgb);
            matches += rgb == want;
        }
        std::swap(prev, cur);
    }
    std::printf("%u %u %zu %llu\n", width, height, colours.size(),
                static_cast<unsigned long long>(matches));
    return 0;
}

int flip(int argc, char** argv) {
    if (argc < 5) throw std::runtime_error("usage: flip SRC DST OFFSET");
    std::string bytes = hone::read_file(argv[2]);
    const auto offset = std::stoull(argv[4]);
    if (offset >= bytes.size()) throw std::runtime_error("offset beyond the file");
    bytes[offset] = static_cast<char>(bytes[offset] ^ 0x01);
    hone::write_file_atomic(argv[3], bytes);
    return 0;
}

} // namespace

int main(int argc, char** argv) try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "ledger") return make_ledger(argc, argv);
    if (mode == "report") return make_report(argc, argv);
    if (mode == "png-stats") return png_stats(argc, argv);
    if (mode == "flip") return flip(argc, argv);
    std::fprintf(stderr, "cli_fixture: mode ledger | report | png-stats\n");
    return 2;
} catch (const std::exception& e) {
    std::fprintf(stderr, "cli_fixture: %s\n", e.what());
    return 2;
}
