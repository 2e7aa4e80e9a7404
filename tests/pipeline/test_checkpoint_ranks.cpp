// A checkpoint quantized and validated across ranks (hone/core/process_group.hpp), the ranks
// threads of this process (tests/thread_ranks.hpp; `mpirun -np 2` runs the same code in
// test_cli_checkpoint_mpi): the same GGUF and compressed-tensors bytes as one process, the
// hidden states passed down the ranks, a run stopped on one rank resumed with another split,
// and the evaluation split across ranks giving exactly one process's figures.
#include "../status_of.hpp"
#include "../thread_ranks.hpp"
#include "lm_checkpoint.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/data/arrays.hpp>
#include <hone/ledger/ledger.hpp>
#include <hone/pipeline/checkpoint_quantize.hpp>

#include <doctest/doctest.h>

#include <functional>

using namespace hone;
namespace fs = std::filesystem;

namespace {

using test::lm_file;
using test::lm_tokens;
using test::temp_dir;

// The status an exception of a rank carries (ok for none), its message logged.
status status_in(const std::exception_ptr& e) {
    return status_of([&] {
        if (e) std::rethrow_exception(e);
    });
}

checkpoint_quantize_options fixture_options(const fs::path& out) {
    checkpoint_quantize_options o;
    o.checkpoint = lm_file("hf");
    o.type = io::gguf_type::q4_0;
    o.calibration = lm_tokens("tokens.calib.npy", 8);
    o.out = out;
    return o;
}

// Runs quantize_checkpoint on `ranks` threads, each with make()'s options; every rank must
// succeed.
std::vector<checkpoint_quantize_result>
on_ranks(int ranks, const std::function<checkpoint_quantize_options()>& make) {
    std::vector<checkpoint_quantize_result> results(static_cast<std::size_t>(ranks));
    const auto errors = test::thread_ranks::run(ranks, [&](process_group& g) {
        checkpoint_quantize_options o = make();
        o.group = &g;
        results[static_cast<std::size_t>(g.rank())] = quantize_checkpoint(o);
    });
    for (const auto& e : errors)
        CHECK_NOTHROW(if (e) std::rethrow_exception(e));
    return results;
}

} // namespace

TEST_CASE("rank_range and all_gather") {
    CHECK(rank_range(10, 0, 3) == std::pair<std::int64_t, std::int64_t>{0, 4});
    CHECK(rank_range(10, 1, 3) == std::pair<std::int64_t, std::int64_t>{4, 7});
    CHECK(rank_range(10, 2, 3) == std::pair<std::int64_t, std::int64_t>{7, 10});
    CHECK(rank_range(2, 3, 4) == std::pair<std::int64_t, std::int64_t>{2, 2}); // nothing left
    CHECK(rank_range(0, 0, 1) == std::pair<std::int64_t, std::int64_t>{0, 0});
    CHECK(status_of([] { (void)rank_range(5, 2, 2); }) == status::invalid_argument);
    CHECK(status_of([] { (void)rank_range(5, 0, 0); }) == status::invalid_argument);
    CHECK(status_of([] { (void)rank_range(-1, 0, 1); }) == status::invalid_argument);

    std::vector<std::vector<std::vector<std::byte>>> seen(3);
    const auto errors = test::thread_ranks::run(3, [&](process_group& g) {
        // Rank r sends r bytes of value r: rank 0's part is empty.
        const std::vector<std::byte> mine(static_cast<std::size_t>(g.rank()), std::byte(g.rank()));
        seen[static_cast<std::size_t>(g.rank())] = all_gather(g, mine);
    });
    for (const auto& e : errors)
        CHECK(!e);
    for (const auto& parts : seen) {
        REQUIRE(parts.size() == 3);
        for (std::size_t r = 0; r < 3; ++r)
            CHECK(parts[r] == std::vector<std::byte>(r, std::byte(r)));
    }
}

TEST_CASE("checkpoint → GGUF on 2 and 3 ranks: the same bytes as one process") {
    const temp_dir dir("hone_test_ranks_", "gguf");
    const auto whole = quantize_checkpoint(fixture_options(dir.path / "whole.gguf"));
    const std::string expected = read_file(dir.path / "whole.gguf");
    for (const int ranks : {2, 3}) {
        CAPTURE(ranks);
        const fs::path out = dir.path / ("ranks" + std::to_string(ranks) + ".gguf");
        const auto results = on_ranks(ranks, [&] { return fixture_options(out); });
        CHECK(read_file(out) == expected);
        CHECK(!fs::exists(out.string() + ".work"));
        for (const auto& r : results) { // every rank's result names the whole output
            REQUIRE(r.outputs.size() == 1);
            CHECK(r.outputs[0].sha256 == whole.outputs[0].sha256);
            CHECK(r.output_bytes == whole.output_bytes);
            CHECK(r.tensors.size() == whole.tensors.size());
            CHECK(r.shards.size() == whole.shards.size());
            CHECK(r.shards[0].sha256 == whole.shards[0].sha256);
            CHECK(r.pieces_resumed == 0);
        }
    }
}

TEST_CASE("checkpoint → compressed-tensors, uncalibrated, on 2 ranks: the same folder") {
    const temp_dir dir("hone_test_ranks_", "ct");
    auto options = [&](const char* name) {
        checkpoint_quantize_options o;
        o.checkpoint = lm_file("hf");
        o.format = checkpoint_format::compressed_tensors;
        o.scheme.group_size = 32;
        o.out = dir.path / name;
        return o;
    };
    const auto whole = quantize_checkpoint(options("whole"));
    const auto results = on_ranks(2, [&] { return options("ranks"); });
    REQUIRE(results[1].outputs.size() == whole.outputs.size());
    for (const auto& f : whole.outputs) {
        const fs::path name = fs::path(f.path).filename();
        CAPTURE(name);
        CHECK(read_file(dir.path / "ranks" / name) == read_file(dir.path / "whole" / name));
    }
}

TEST_CASE("checkpoint → GGUF across ranks: stopped on rank 1, resumed on 3 ranks and on one") {
    const temp_dir dir("hone_test_ranks_", "resume");
    (void)quantize_checkpoint(fixture_options(dir.path / "whole.gguf"));
    const std::string expected = read_file(dir.path / "whole.gguf");

    for (const int resume_ranks : {3, 1}) {
        CAPTURE(resume_ranks);
        const fs::path out = dir.path / "resumed.gguf";
        // Two ranks: pieces [0, 3) and [3, 6); rank 1 stops after its first piece.
        const auto errors = test::thread_ranks::run(2, [&](process_group& g) {
            auto o = fixture_options(out);
            o.group = &g;
            if (g.rank() == 1)
                o.progress = [](const checkpoint_progress& p) { return p.piece < 3; };
            (void)quantize_checkpoint(o);
        });
        CHECK(status_in(errors[1]) == status::cancelled);
        CHECK(status_in(errors[0]) == status::io_error); // waiting for rank 1 at the end
        CHECK(!fs::exists(out));
        const fs::path work = out.string() + ".work";
        for (int piece = 0; piece <= 3; ++piece)
            CHECK(fs::exists(work / ("piece-000" + std::to_string(piece) + ".json")));
        CHECK(!fs::exists(work / "piece-0004.json"));
        // The hidden states before rank 1's range are kept for a resume.
        CHECK(fs::exists(work / "hidden-0002.safetensors"));

        if (resume_ranks == 1) {
            const auto r = quantize_checkpoint(fixture_options(out));
            CHECK(r.pieces_resumed == 4);
        } else {
            // Three ranks: [0, 2) and [2, 4) all committed, [4, 6) made from the hidden states
            // rank 1 reads from the work folder and sends.
            const auto results = on_ranks(resume_ranks, [&] { return fixture_options(out); });
            for (const auto& r : results)
                CHECK(r.pieces_resumed == 4);
        }
        CHECK(read_file(out) == expected);
        CHECK(!fs::exists(work));
        fs::remove(out);
    }
}

TEST_CASE("optimize_checkpoint on 2 ranks: the evaluation split, one process's figures") {
    const temp_dir dir("hone_test_ranks_", "optimize");
    auto options = [&](const std::string& name) {
        checkpoint_optimize_options o;
        o.quantize = fixture_options(dir.path / (name + ".gguf"));
        o.quantize.calibration = tensor();
        o.calibration = lm_file("tokens.calib.npy").string() + ":8";
        o.evaluation = lm_file("tokens.eval.npy").string() + ":40"; // 5 batches: 3 and 2
        o.batch = 8;
        o.policy = policy::for_tier(risk_tier::medium);
        o.ledger = dir.path / (name + ".jsonl");
        return o;
    };
    auto single = options("single");
    const auto one = optimize_checkpoint(single);
    REQUIRE(one.validation.comparison.language_model.has_value());
    const auto& expected = *one.validation.comparison.language_model;

    std::vector<checkpoint_optimize_outcome> outcomes(2);
    const auto errors = test::thread_ranks::run(2, [&](process_group& g) {
        auto o = options("ranks");
        o.quantize.group = &g;
        outcomes[static_cast<std::size_t>(g.rank())] = optimize_checkpoint(o);
    });
    for (const auto& e : errors)
        CHECK_NOTHROW(if (e) std::rethrow_exception(e));
    CHECK(read_file(dir.path / "ranks.gguf") == read_file(dir.path / "single.gguf"));
    for (const auto& out : outcomes) {
        REQUIRE(out.validation.comparison.language_model.has_value());
        const auto& lm = *out.validation.comparison.language_model;
        CHECK(out.validation.comparison.samples == 40);
        // Exactly: the per-sequence sums travel as their bytes, in sequence order.
        CHECK(lm.perplexity_change == expected.perplexity_change);
        CHECK(lm.perplexity_change_ci.low == expected.perplexity_change_ci.low);
        CHECK(lm.perplexity_change_ci.high == expected.perplexity_change_ci.high);
        CHECK(lm.mean_kl == expected.mean_kl);
        CHECK(lm.flip_rate == expected.flip_rate);
        CHECK(out.validation.comparison.agreement == one.validation.comparison.agreement);
        CHECK(out.decision.verdict == one.decision.verdict);
    }
    // One record, from rank 0.
    CHECK(outcomes[0].record.has_value());
    CHECK(!outcomes[1].record.has_value());
    CHECK(ledger(dir.path / "ranks.jsonl").read().size() == 1);
}
