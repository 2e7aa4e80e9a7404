// hone/pipeline/checkpoint_quantize.hpp — a LLaMA checkpoint folder quantized to GGUF for
// llama.cpp, block by block, in bounded memory, resumable after a kill.
//
// quantize_checkpoint reads a Hugging Face checkpoint folder (hone/io/checkpoint.hpp) and
// writes one GGUF v3 file (hone/io/gguf.hpp, names and metadata as hone/io/gguf_llama.hpp) in
// pieces: piece 0 is the token embedding, pieces 1…L the decoder blocks, piece L+1 the final
// norm and the LM head. In a block, each linear layer in turn (hone/model/llama.hpp runs the
// block one weight matrix at a time):
//  1. is read from the mapped shards (its pages released after the copy);
//  2. with calibration tokens, gets its importance from the input it is about to multiply: the
//     mean square of every input column over all calibration tokens (what llama.cpp's imatrix
//     holds);
//  3. is quantized row by row (hone/kernels/gguf_blocks.hpp), the rounding weighted by that
//     importance, and its GGUF bytes go straight to the work folder; RMSNorm weights stay F32;
//  4. runs with the weights as quantized (sequential calibration, the default: every later
//     layer is calibrated on what the quantized model computes — GPTQ's order) or with its f32
//     weights (sequential = false), and is dropped.
// The GGUF is then assembled from the work folder, tensor by tensor, and the folder removed.
// Peak memory: about twice the largest weight matrix (as read, and as the GEMM kernel packs
// it) plus the calibration activations — never a block, never the model (measured by
// benchmarks/checkpoint/bench_checkpoint_memory.cpp; docs/scale.md). glibc keeps freed blocks
// under its rising mmap threshold (up to 32 MiB) resident: a program that wants the bound
// fixes it, as `hone checkpoint quantize` does (mallopt(M_MMAP_THRESHOLD, 1 << 20)).
//
// Types: `type` is the type of every weight matrix (Q8_0, Q4_0 or Q4_K). A matrix whose row
// length is not a multiple of the type's block (256 for Q4_K, 32 for the others) falls back to
// Q4_0, then Q8_0, then F16 — as llama.cpp's quantize falls back — and the result names the
// type each tensor got. The LM head is Q8_0 in 4-bit files (llama.cpp keeps it at 6 bits or
// more for the same reason: it decides every token).
//
// Resuming: the work folder (default: `out` + ".work") holds state.json (the checkpoint's shard
// hashes, the calibration tokens' hash, the type and the sequential flag); per piece NNNN, a
// folder piece-NNNN.part with one file of GGUF bytes per tensor and, written last as the commit
// mark, piece-NNNN.json (the tensors' reports); and hidden-NNNN.safetensors, the calibration
// hidden states after the last committed piece. A run that finds a work folder made from the
// same inputs continues after its last committed piece (an interrupted piece starts over);
// pieces are deterministic (same bytes at any thread count), so the GGUF is byte-identical to
// an uninterrupted run's. A work folder from other inputs is refused (invalid_argument, naming
// what differs): delete it to start over.
//
// Across ranks (options.group): rank r of R takes the contiguous pieces rank_range(L + 2, r, R)
// (hone/core/process_group.hpp) and the shards' hashing is split alike. With calibration the
// ranks form a pipeline: rank r receives the hidden states after the pieces before its range
// from rank r − 1 as a message, makes its pieces and sends its hidden states on to r + 1 —
// sequential calibration makes each rank wait for the one before; without calibration the
// ranks work at once. Every rank writes its pieces into the one work folder (shared: one
// machine, or a shared file system), rank 0 assembles the output once all are committed, and
// every rank's result then names it (`tensors` and `outputs` on every rank). The output is
// byte-identical to one process's, and resuming works per rank (a rank keeps the hidden
// states before its first piece until the run ends). optimize_checkpoint with a group splits
// the evaluation too (validator_options::group); rank 0 alone writes the record and report.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/process_group.hpp"
#include "hone/core/tensor.hpp"
#include "hone/io/compressed_tensors.hpp"
#include "hone/io/digest.hpp"
#include "hone/io/gguf.hpp"
#include "hone/ledger/ledger.hpp"
#include "hone/policy/policy.hpp"
#include "hone/validate/validator.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hone {

/// Where a run is: piece `piece` of `pieces` was just committed (or found committed).
struct checkpoint_progress {
    std::int64_t piece = 0;
    std::int64_t pieces = 0;
    bool resumed = false; ///< found in the work folder, not computed by this run
};

/// What quantize_checkpoint writes.
enum class checkpoint_format {
    gguf = 0,               ///< one GGUF file for llama.cpp (`type`)
    compressed_tensors = 1, ///< a checkpoint folder, compressed-tensors pack-quantized (`scheme`)
};

struct checkpoint_quantize_options {
    std::filesystem::path checkpoint; ///< the Hugging Face checkpoint folder
    /// The GGUF file, or the checkpoint folder (compressed-tensors) to write.
    std::filesystem::path out;
    checkpoint_format format = checkpoint_format::gguf;
    io::gguf_type type = io::gguf_type::q4_k; ///< GGUF: Q8_0, Q4_0 or Q4_K
    /// compressed-tensors: bits, group size and symmetry of every linear layer's weights.
    io::compressed_tensors_scheme scheme;
    /// Calibration token ids, i64 [rows, seq]; empty (no elements): plain rounding.
    tensor calibration;
    bool sequential = true;
    std::filesystem::path work_dir; ///< empty: out + ".work"
    /// Called after each piece; returning false stops the run (status cancelled), leaving the
    /// work folder for a later run to resume.
    std::function<bool(const checkpoint_progress&)> progress;
    /// Several processes (e.g. `mpirun -np 2`, hone/mpi/mpi_process_group.hpp), every rank
    /// calling with the same options: see "Across ranks" above. nullptr: this process alone.
    process_group* group = nullptr;
};

/// One tensor of the output.
struct checkpoint_tensor_report {
    std::string name;   ///< GGUF name ("blk.0.attn_q.weight"), or the checkpoint name
    std::string source; ///< checkpoint name
    /// GGUF: its type ("Q4_K", "F32"); compressed-tensors: "int4 g128 symmetric" for a packed
    /// layer, the dtype ("BF16") of a tensor kept as it was.
    std::string type;
    std::vector<std::uint64_t> dims; ///< GGUF order (innermost first), or the checkpoint's
    std::uint64_t bytes = 0;
    /// ‖W − Ŵ‖ / ‖W‖, and the same with each column weighted by its importance (equal to the
    /// plain figure without calibration).
    double relative_rmse = 0;
    double weighted_relative_rmse = 0;
};

struct checkpoint_quantize_result {
    /// The files written: the GGUF; or the folder's config.json, index and shards.
    std::vector<artifact_ref> outputs;
    std::uint64_t output_bytes = 0;   ///< their total size
    std::vector<artifact_ref> shards; ///< the checkpoint's safetensors files
    std::string calibration_sha256;   ///< of the token ids' bytes ("" without calibration)
    std::vector<checkpoint_tensor_report> tensors; ///< in file order
    std::int64_t pieces = 0;
    std::int64_t pieces_resumed = 0;
    std::uint64_t checkpoint_bytes = 0; ///< the shards' total size
    /// {"outputs": [...], "output_bytes", "shards": [...], "checkpoint_bytes", "pieces",
    ///  "pieces_resumed", "calibration_sha256",
    ///  "tensors": [{"name", "source", "type", "dims", "bytes", "relative_rmse",
    ///  "weighted_relative_rmse"}]}
    HONE_EXPORT std::string to_json() const;
};

/// See the top. Throws as the checkpoint, GGUF and kernel layers do (errors name the folder,
/// file and tensor), invalid_argument for a bad type, calibration shape or foreign work
/// folder, cancelled when `progress` says stop.
HONE_EXPORT checkpoint_quantize_result
quantize_checkpoint(const checkpoint_quantize_options& options);

// ---- the governed change: quantize, validate, decide, record ---------------------------------
//
// optimize_checkpoint is quantize_checkpoint treated as a production change, as hone optimize
// treats an ONNX model: the evaluation tokens (held out from calibration) run through the f32
// checkpoint and through hone's execution of the GGUF's own bytes (dequantized, block by
// block); validate() compares them on next-token predictions (perplexity, mean KL, top-1
// agreement, flip rate, per slice, paired bootstrap intervals over sequences); the policy's
// language-model gates decide; the ledger gets an optimize record whose artifacts are the GGUF
// and every checkpoint shard (SHA-256 each), so `hone check model.gguf --ledger L` judges the
// file an engine is about to load; the report folder gets report.json and report.html. No
// latency is measured (hone runs the dequantized weights in f32: not the engine's speed).

struct checkpoint_optimize_options {
    checkpoint_quantize_options quantize; ///< its calibration may stay empty: see below
    std::string evaluation;       ///< data spec of held-out token ids (hone/data/data_spec.hpp)
    std::string calibration;      ///< data spec of calibration token ids; "" = quantize.calibration
    std::filesystem::path slices; ///< slice file of the evaluation set ("" = none)
    std::int64_t sequence = 0;    ///< tokens per sequence for TEXT specs (0: NPY as stored)
    std::int64_t batch = 16;      ///< sequences per run
    hone::policy policy;
    std::filesystem::path ledger;     ///< "" = no record
    std::filesystem::path report_dir; ///< "" = no report
    std::string actor = "hone";
    std::filesystem::path key; ///< Ed25519 signing key (PEM); "" = unsigned
};

struct checkpoint_optimize_outcome {
    checkpoint_quantize_result quantized;
    validation_report validation;
    hone::decision decision;
    std::optional<ledger_entry> record;
};

/// See above. Throws as quantize_checkpoint, load_data and the ledger do; dtype_mismatch naming
/// a data spec that does not hold token ids. The GGUF is written before validation; with a
/// ledger, its record says whether it may ship.
HONE_EXPORT checkpoint_optimize_outcome optimize_checkpoint(checkpoint_optimize_options& options);

} // namespace hone
