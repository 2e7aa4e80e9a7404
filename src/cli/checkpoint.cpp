#include "checkpoint.hpp"

#include "exit_codes.hpp"

#include <hone/io/gguf.hpp>
#include <hone/pipeline/checkpoint_quantize.hpp>
#include <hone/pipeline/optimize.hpp>

#include <fmt/format.h>

#include <cstdlib>
#include <malloc.h>
#include <optional>

#ifdef HONE_WITH_MPI
#include <hone/mpi/mpi_process_group.hpp>
#endif

namespace hone::cli {

namespace {

// Started by mpirun with several ranks: every rank runs this command with the same arguments,
// each does its share (quantize_checkpoint's pieces, the evaluation's batches) and rank 0
// prints and records. A rank that fails prints its error and ends the whole job.
int run_checkpoint_quantize(const checkpoint_cli_options& a, console& c, process_group* group);

int run_checkpoint_command(const checkpoint_cli_options& a, console& c) {
    // One weight matrix in memory at a time: glibc should hand freed blocks of 1 MiB or more
    // back at once. By default its threshold rises to 32 MiB as large blocks are freed, and
    // blocks under it (oneDNN's packed copies of the smaller layers) stay resident in its heaps
    // after they are freed (docs/scale.md, "Memory").
    (void)::mallopt(M_MMAP_THRESHOLD, 1 << 20);
#ifdef HONE_WITH_MPI
    if (mpi_process_group::launched_with_ranks()) {
        mpi_process_group group;
        try {
            return run_checkpoint_quantize(a, c, &group);
        } catch (const std::exception& e) {
            c.err << fmt::format("hone: error (rank {} of {}): {}\n", group.rank(), group.size(),
                                 e.what());
            c.err.flush();
            group.abort(1);
        }
    }
#else
    if (const char* ranks = std::getenv("OMPI_COMM_WORLD_SIZE"); ranks && std::atoi(ranks) > 1)
        fail(status::unsupported, "hone checkpoint quantize was started by mpirun with several "
                                  "ranks, but this hone was built without MPI (install "
                                  "libopenmpi-dev and build again)");
#endif
    return run_checkpoint_quantize(a, c, nullptr);
}

int run_checkpoint_quantize(const checkpoint_cli_options& a, console& c, process_group* group) {
    const int rank = group ? group->rank() : 0;
    const std::string who =
        group ? fmt::format("rank {} of {}: ", rank, group->size()) : std::string();
    checkpoint_optimize_options o;
    o.quantize.group = group;
    o.quantize.checkpoint = a.folder;
    o.quantize.out = a.out;
    o.quantize.work_dir = a.work;
    if (a.format == "gguf") {
        const auto type = io::gguf_type_from_name(a.type);
        if (!type)
            fail(status::invalid_argument,
                 fmt::format("--type '{}': hone writes Q8_0, Q4_0 and Q4_K", a.type));
        o.quantize.type = *type;
    } else if (a.format == "compressed-tensors") {
        o.quantize.format = checkpoint_format::compressed_tensors;
        o.quantize.scheme.bits = a.bits;
        o.quantize.scheme.group_size = a.group;
        o.quantize.scheme.symmetric = !a.asymmetric;
    } else {
        fail(status::invalid_argument,
             fmt::format("--format '{}': gguf or compressed-tensors", a.format));
    }
    o.quantize.sequential = !a.no_sequential;
    if (!c.quiet)
        o.quantize.progress = [&c, &who](const checkpoint_progress& p) {
            c.err << fmt::format("hone: {}piece {}/{} {}\n", who, p.piece + 1, p.pieces,
                                 p.resumed ? "(resumed from the work folder)" : "quantized");
            return true;
        };
    o.evaluation = a.eval;
    o.calibration = a.calib;
    o.slices = a.slices;
    o.sequence = a.sequence;
    o.batch = a.batch;
    o.policy = parse_policy_argument(a.policy);
    o.ledger = a.ledger;
    o.report_dir = a.report;
    o.actor = a.actor;
    o.key = a.key;
    const checkpoint_optimize_outcome r = optimize_checkpoint(o);
    if (rank != 0) return exit_code_for(r.decision.verdict); // rank 0 prints

    const auto& lm = r.validation.language_model;
    if (c.json) {
        nlohmann::json j = nlohmann::json::parse(r.quantized.to_json());
        j["validation"] = nlohmann::json::parse(r.validation.to_json());
        j["decision"] = nlohmann::json::parse(r.decision.to_json());
        if (r.record) j["record"] = {{"seq", r.record->seq}};
        print_json(c.out, j);
    } else {
        c.out << fmt::format("wrote {} ({} bytes in {} file{}; the checkpoint: {} bytes)\n", a.out,
                             r.quantized.output_bytes, r.quantized.outputs.size(),
                             r.quantized.outputs.size() == 1 ? "" : "s",
                             r.quantized.checkpoint_bytes);
        if (lm) {
            const auto& m = lm->overall;
            c.out << fmt::format(
                "perplexity {:.4f} -> {:.4f} ({:+.3f}% [{:+.3f}, {:+.3f}]), mean KL {:.5f}, "
                "top-1 agreement {:.2f}%, on {} sequences ({} tokens)\n",
                m.baseline_perplexity.value, m.candidate_perplexity.value,
                100 * m.perplexity_change.value, 100 * m.perplexity_change.ci.low,
                100 * m.perplexity_change.ci.high, m.mean_kl.value, 100 * m.top1_agreement.value,
                m.sequences, m.tokens);
        }
        c.out << fmt::format("decision: {}\n", name_of(r.decision.verdict));
        for (const auto& reason : r.decision.reasons)
            if (!reason.passed) c.out << "  " << reason.text << "\n";
        if (r.record) c.out << fmt::format("ledger {}: record {}\n", a.ledger, r.record->seq);
    }
    return exit_code_for(r.decision.verdict);
}

} // namespace

void add_checkpoint_command(CLI::App& app, checkpoint_cli_options& o,
                            std::function<int(console&)>& action) {
    auto* ck = app.add_subcommand("checkpoint", "Language-model checkpoints (Hugging Face "
                                                "folders of safetensors shards)");
    ck->require_subcommand(1);
    auto* s = ck->add_subcommand(
        "quantize", "Quantize a LLaMA checkpoint to GGUF (llama.cpp) or compressed-tensors "
                    "(vLLM), one layer at a time; validate it against the checkpoint, decide, "
                    "record (exit as optimize)");
    s->add_option("FOLDER", o.folder,
                  "Checkpoint folder: config.json, model.safetensors or "
                  "shards with model.safetensors.index.json")
        ->required();
    s->add_option("-o,--out", o.out, "The GGUF file, or the checkpoint folder, to write")
        ->required();
    s->add_option("--format", o.format, "gguf (llama.cpp) or compressed-tensors (vLLM)")
        ->capture_default_str();
    s->add_option("--type", o.type, "GGUF: Q8_0, Q4_0 or Q4_K (rows that do not fit fall back)")
        ->capture_default_str();
    s->add_option("--bits", o.bits, "compressed-tensors: 4 or 8")->capture_default_str();
    s->add_option("--group", o.group, "compressed-tensors: inputs per scale (0: per channel)")
        ->capture_default_str();
    s->add_flag("--asymmetric", o.asymmetric, "compressed-tensors: a zero point per scale");
    s->add_option("--calib", o.calib, "Calibration token ids (DATA): importance-weighted rounding");
    s->add_option("--eval", o.eval, "Held-out token ids (DATA) to validate on")->required();
    s->add_option("--slices", o.slices, "Slice file of the evaluation data");
    s->add_option("--input-shape", o.sequence, "Tokens per sequence for TEXT.txt data");
    s->add_option("--batch", o.batch, "Sequences per run")->capture_default_str();
    s->add_flag("--no-sequential", o.no_sequential,
                "Calibrate every block on the f32 model's activations (default: on the "
                "quantized blocks' outputs)");
    s->add_option("--work", o.work, "Work folder for resuming (default: OUT.work)");
    s->add_option("--policy", o.policy, "Risk tier or policy JSON file")->capture_default_str();
    s->add_option("--ledger", o.ledger, "Ledger to append the optimize record to");
    s->add_option("--report", o.report, "Folder for report.json and report.html");
    s->add_option("--key", o.key, "Ed25519 key (PEM) to sign the record");
    s->add_option("--actor", o.actor, "Who makes the change")->capture_default_str();
    s->footer("DATA: TOKENS.npy (int64 [sequences, tokens]) or TEXT.txt with --input-shape N, "
              "optionally :N. Stopped runs resume from the work folder.");
    s->callback([&] { action = [&](console& c) { return run_checkpoint_command(o, c); }; });
}

} // namespace hone::cli
