/*
 * hone.h — the C ABI of hone. Pure C99; this header is the specification.
 *
 * Conventions
 *  - Every function returns a hone_status; HONE_OK (0) is success. On failure, out-parameters
 *    are left untouched and hone_last_error() gives a message for this thread that names what
 *    was wrong and where. Nothing is ever thrown or aborted across this boundary.
 *  - Objects are opaque handles made by hone_X_create(const hone_X_params*, hone_X** out) and
 *    freed by hone_X_destroy(hone_X*), which accepts NULL.
 *  - Params structs start with `size_t struct_size`; fill them with hone_X_params_init(), which
 *    sets struct_size and the defaults, then change the fields you need. Structs only grow at
 *    the end, so a program built against an older header keeps working.
 *  - Enum values are fixed forever; new values are appended.
 *  - Sizes and dimensions are int64_t (a dimension is ≥ 0); strides are in elements.
 *
 * Versions: HONE_VERSION_* are those of the header you compile against, hone_version() that of
 * the library you run with. HONE_ABI_VERSION is the shared library's SOVERSION; a program
 * works with any library of the same ABI version and an equal or newer minor version.
 */
#ifndef HONE_H
#define HONE_H

#include <stddef.h>
#include <stdint.h>

#define HONE_VERSION_MAJOR 0
#define HONE_VERSION_MINOR 1
#define HONE_VERSION_PATCH 0
#define HONE_ABI_VERSION 1
/* Bumped whenever a packed layout of docs/formats.md changes. */
#define HONE_PACKED_FORMAT_VERSION 1

#if defined(_WIN32)
#if defined(HONE_BUILDING_LIBRARY)
#define HONE_API __declspec(dllexport)
#else
#define HONE_API __declspec(dllimport)
#endif
#else
#define HONE_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors --------------------------------------------------------------------- */

typedef enum hone_status {
    HONE_OK = 0,
    HONE_ERROR_INVALID_ARGUMENT = 1,     /* a parameter is malformed: NULL, negative, bad enum */
    HONE_ERROR_OUT_OF_RANGE = 2,         /* an index, size or view reaches outside its object */
    HONE_ERROR_SHAPE_MISMATCH = 3,       /* operand shapes do not agree */
    HONE_ERROR_DTYPE_MISMATCH = 4,       /* operand element types do not agree */
    HONE_ERROR_OUT_OF_MEMORY = 5,        /* an allocation failed */
    HONE_ERROR_IO = 6,                   /* a file could not be read or written */
    HONE_ERROR_FORMAT = 7,               /* a file or buffer is malformed */
    HONE_ERROR_UNSUPPORTED = 8,          /* valid but not implemented */
    HONE_ERROR_NOT_FOUND = 9,            /* a named object does not exist */
    HONE_ERROR_VERIFICATION_FAILED = 10, /* a hash, signature or ledger check failed */
    HONE_ERROR_INTERNAL = 11             /* a bug in hone */
} hone_status;

/* Static name of a status ("HONE_OK", "HONE_ERROR_SHAPE_MISMATCH", ...); never NULL. */
HONE_API const char* hone_status_string(hone_status status);

/* Message of the most recent failed call on this thread ("" if none). Valid until the next
 * hone call on this thread. */
HONE_API const char* hone_last_error(void);

/* ---- versions -------------------------------------------------------------------------------- */

/* "major.minor.patch" of the loaded library. */
HONE_API const char* hone_version(void);
/* The loaded library's major, minor and patch numbers; any pointer may be NULL. */
HONE_API void hone_version_numbers(int* major, int* minor, int* patch);
HONE_API int hone_abi_version(void);
HONE_API int hone_packed_format_version(void);

/* ---- threads --------------------------------------------------------------------------------- */

/* Thread count for hone's parallel work; n <= 0 restores the default (HONE_NUM_THREADS, else
 * the hardware thread count). */
HONE_API hone_status hone_set_num_threads(int n);
HONE_API hone_status hone_get_num_threads(int* out);

/* ---- element types --------------------------------------------------------------------------- */

typedef enum hone_dtype {
    HONE_DTYPE_F32 = 0,
    HONE_DTYPE_F16 = 1,
    HONE_DTYPE_BF16 = 2,
    HONE_DTYPE_I8 = 3,
    HONE_DTYPE_U8 = 4,
    HONE_DTYPE_I4 = 5, /* two per byte: element 2k in the low nibble of byte k */
    HONE_DTYPE_U4 = 6,
    HONE_DTYPE_I32 = 7,
    HONE_DTYPE_I64 = 8,
    HONE_DTYPE_BOOL = 9
} hone_dtype;

/* Name of a dtype ("f32", "i4", "bool"); NULL for an invalid value. */
HONE_API const char* hone_dtype_name(hone_dtype dtype);
/* Bits of storage per element (4 for I4/U4); 0 for an invalid value. */
HONE_API int hone_dtype_bits(hone_dtype dtype);

/* ---- tensors --------------------------------------------------------------------------------- */

#define HONE_MAX_RANK 8

typedef struct hone_tensor hone_tensor;

typedef struct hone_tensor_params {
    size_t struct_size;     /* sizeof(hone_tensor_params), set by hone_tensor_params_init */
    hone_dtype dtype;       /* default HONE_DTYPE_F32 */
    size_t rank;            /* 0…HONE_MAX_RANK; default 0 (a scalar) */
    const int64_t* dims;    /* rank values, each >= 0; may be NULL when rank is 0 */
    const int64_t* strides; /* wrap only: rank strides in elements (>= 0), NULL = contiguous */
} hone_tensor_params;

HONE_API hone_status hone_tensor_params_init(hone_tensor_params* params);

/* A new zero-filled, contiguous, 64-byte-aligned tensor that owns its memory. */
HONE_API hone_status hone_tensor_create(const hone_tensor_params* params, hone_tensor** out);

/* A tensor over a caller's buffer of `data_bytes` bytes, which must outlive it and stay where
 * it is. Fails with HONE_ERROR_OUT_OF_RANGE if any element the view can reach lies outside the
 * buffer, and HONE_ERROR_INVALID_ARGUMENT for a NULL buffer (unless the tensor is empty), a
 * pointer not aligned to the element size, or strides on a packed dtype. */
HONE_API hone_status hone_tensor_wrap(const hone_tensor_params* params, void* data,
                                      size_t data_bytes, hone_tensor** out);

HONE_API void hone_tensor_destroy(hone_tensor* tensor);

HONE_API hone_status hone_tensor_dtype(const hone_tensor* tensor, hone_dtype* out);
HONE_API hone_status hone_tensor_rank(const hone_tensor* tensor, size_t* out);
/* Copies the dims into `dims` (capacity `capacity`, >= rank, else HONE_ERROR_OUT_OF_RANGE). */
HONE_API hone_status hone_tensor_shape(const hone_tensor* tensor, int64_t* dims, size_t capacity);
/* Element strides, as hone_tensor_shape. */
HONE_API hone_status hone_tensor_strides(const hone_tensor* tensor, int64_t* strides,
                                         size_t capacity);
HONE_API hone_status hone_tensor_numel(const hone_tensor* tensor, int64_t* out);
/* Bytes spanned by the tensor's elements (for a contiguous tensor: its storage size). */
HONE_API hone_status hone_tensor_nbytes(const hone_tensor* tensor, size_t* out);
/* Pointer to element 0 (NULL for an empty wrapped tensor). */
HONE_API hone_status hone_tensor_data(hone_tensor* tensor, void** out);
/* Whether the tensor owns its memory (1) or borrows it (0). */
HONE_API hone_status hone_tensor_is_owner(const hone_tensor* tensor, int* out);

/* Copies src into dst, elementwise, of equal shapes. Converts between F32, F16 and BF16
 * (round to nearest even; NaN, inf and signed zero kept); any other pair of dtypes must be
 * equal (else HONE_ERROR_DTYPE_MISMATCH). */
HONE_API hone_status hone_tensor_copy(const hone_tensor* src, hone_tensor* dst);

/* ---- SIMD tier ------------------------------------------------------------------------------ */

/* Kernels run on the highest tier that the CPU supports and that is at most the cap
 * (hone_set_max_isa, or the HONE_MAX_ISA environment variable: "scalar", "avx2", "avx512").
 * Every tier gives the same results as HONE_ISA_SCALAR, the reference (see each kernel). */
typedef enum hone_isa {
    HONE_ISA_SCALAR = 0,
    HONE_ISA_AVX2 = 1,  /* AVX2 + FMA + F16C */
    HONE_ISA_AVX512 = 2 /* AVX-512 F/BW/DQ/VL */
} hone_isa;

/* Caps the tier for all later calls (process-wide). */
HONE_API hone_status hone_set_max_isa(hone_isa cap);
/* The tier kernels run on now (`active`) and the best this machine has (`best`); either may be
 * NULL. */
HONE_API hone_status hone_get_isa(hone_isa* active, hone_isa* best);
/* "scalar", "avx2", "avx512"; NULL for an invalid value. */
HONE_API const char* hone_isa_name(hone_isa isa);

/* ---- kernels: quantize and reductions ----------------------------------------------------------
 */

/* ---- kernels: sparsity, clustering, norms ------------------------------------------------------
 */

/* ---- kernels: GEMM and convolution -------------------------------------------------------------
 */

/* ---- kernels: weight-only low-bit GEMV/GEMM ----------------------------------------------------
 */

/* ---- validation and policy ------------------------------------------------------------------ */

/* Runs one batch for hone: `inputs` is f32 [batch, ...] (borrowed, valid during the call);
 * the callback creates `*outputs` (f32 [batch, classes], e.g. with hone_tensor_create) and hone
 * takes ownership. Return HONE_OK, or an error status (hone then stops and reports it). */
typedef hone_status (*hone_run_fn)(void* user, const hone_tensor* inputs, hone_tensor** outputs);

typedef struct hone_runner hone_runner; /* an engine's executor, seen by hone's validator */

typedef struct hone_runner_params {
    size_t struct_size;
    const char* name;      /* for reports; default "runner" */
    hone_run_fn run;       /* required */
    void* user;            /* passed to run */
    uint64_t model_bytes;  /* model size for the size figures; 0 = unknown */
    double ops_per_sample; /* GEMM/conv arithmetic per sample (2 per MAC) for utilisation */
    int int8;              /* 1 when that arithmetic runs in int8 */
} hone_runner_params;

HONE_API hone_status hone_runner_params_init(hone_runner_params* params);
HONE_API hone_status hone_runner_create(const hone_runner_params* params, hone_runner** out);
HONE_API void hone_runner_destroy(hone_runner* runner);

typedef enum hone_risk_tier {
    HONE_TIER_LOW = 0,
    HONE_TIER_MEDIUM = 1,
    HONE_TIER_HIGH = 2,
    HONE_TIER_CRITICAL = 3
} hone_risk_tier;

typedef struct hone_policy hone_policy; /* bounds per risk tier: docs/policy.md */

HONE_API hone_status hone_policy_create_for_tier(hone_risk_tier tier, hone_policy** out);
/* Parses policy JSON; errors name `source` (e.g. the file name; may be NULL) and the field. */
HONE_API hone_status hone_policy_create_from_json(const char* json, const char* source,
                                                  hone_policy** out);
/* The policy's JSON: copied into `buffer` (NUL-terminated) when `capacity` suffices;
 * `*needed` (may be NULL) receives the size including the NUL. A too small buffer gives
 * HONE_ERROR_OUT_OF_RANGE with `*needed` set. */
HONE_API hone_status hone_policy_to_json(const hone_policy* policy, char* buffer, size_t capacity,
                                         size_t* needed);
HONE_API void hone_policy_destroy(hone_policy* policy);

typedef struct hone_validate_params {
    size_t struct_size;
    int64_t batch_size;          /* default 256 */
    double confidence;           /* default 0.95 */
    int per_class_slices;        /* default 1 */
    const double* class_weights; /* production mix by label; NULL = the data's own */
    size_t class_weight_count;
    const int64_t* latency_batch_sizes; /* default {1, 64}; set count 0 for no latency */
    size_t latency_batch_count;
    int warmup;  /* default 3 */
    int repeats; /* default 20 */
    /* named slices: slice i is slice_samples[i][0 .. slice_sizes[i]) */
    const char* const* slice_names;
    const uint32_t* const* slice_samples;
    const size_t* slice_sizes;
    size_t slice_count;
} hone_validate_params;

HONE_API hone_status hone_validate_params_init(hone_validate_params* params);

typedef struct hone_validation hone_validation; /* a baseline-vs-candidate report */

/* Runs both models on the same inputs (f32 [N, ...]) and compares them. `labels` (N values)
 * may be NULL: the baseline's answers then serve as labels. `params` may be NULL. */
HONE_API hone_status hone_validate(hone_runner* baseline, hone_runner* candidate,
                                   const hone_tensor* inputs, const int64_t* labels,
                                   size_t label_count, const hone_validate_params* params,
                                   hone_validation** out);

typedef struct hone_validation_summary {
    uint64_t samples;
    double baseline_accuracy, candidate_accuracy;
    double delta_low, delta_high; /* interval of candidate − baseline accuracy */
    double mcnemar_p;
    double agreement;
    uint64_t regressions, improvements; /* paired disagreements */
} hone_validation_summary;

HONE_API hone_status hone_validation_summary_get(const hone_validation* validation,
                                                 hone_validation_summary* out);
/* The whole report as JSON (valid while the handle lives). */
HONE_API hone_status hone_validation_json(const hone_validation* validation, const char** json);

typedef enum hone_verdict {
    HONE_VERDICT_APPROVED = 0,
    HONE_VERDICT_NEEDS_SIGNOFF = 1,
    HONE_VERDICT_REJECTED = 2
} hone_verdict;

/* Applies a policy. `decision_json` (may be NULL) receives the decision with its reasons —
 * the text a ledger optimize record stores — valid until the next call on `validation`. */
HONE_API hone_status hone_validation_decide(hone_validation* validation, const hone_policy* policy,
                                            hone_verdict* verdict, uint32_t* approvals_missing,
                                            const char** decision_json);
HONE_API void hone_validation_destroy(hone_validation* validation);

/* ---- change ledger -------------------------------------------------------------------------- */

/* A hash-chained JSONL file of change records with optional Ed25519 signatures; the format and
 * the approval rules are in docs/ledger.md. An engine calls hone_ledger_check_artifact before it
 * loads a model and refuses anything but HONE_ARTIFACT_APPROVED. */

typedef struct hone_key hone_key;       /* an Ed25519 private key (an identity) */
typedef struct hone_ledger hone_ledger; /* a ledger file */

HONE_API hone_status hone_key_generate(hone_key** out);
/* Reads a PKCS#8 PEM Ed25519 private key (`openssl genpkey -algorithm ed25519`). */
HONE_API hone_status hone_key_load_pem(const char* path, hone_key** out);
/* Writes the key as PEM, atomically, mode 0600. */
HONE_API hone_status hone_key_save_pem(const hone_key* key, const char* path);
/* The public key as 64 hex digits plus NUL into `buffer` (capacity >= 65). */
HONE_API hone_status hone_key_public_hex(const hone_key* key, char* buffer, size_t capacity);
HONE_API void hone_key_destroy(hone_key* key);

typedef enum hone_ledger_action {
    HONE_LEDGER_BASELINE = 0,
    HONE_LEDGER_OPTIMIZE = 1,
    HONE_LEDGER_APPROVE = 2,
    HONE_LEDGER_REJECT = 3,
    HONE_LEDGER_PROMOTE = 4
} hone_ledger_action;

typedef struct hone_change_record {
    size_t struct_size;
    hone_ledger_action action;       /* default HONE_LEDGER_BASELINE */
    const char* actor;               /* required: the identity that acts */
    uint64_t subject;                /* approve/reject/promote: seq acted on; 0 = none */
    const char* const* artifact_paths; /* files hone hashes into the record (may be NULL) */
    size_t artifact_count;
    /* JSON texts; NULL stores JSON null. */
    const char* recipe;
    const char* data;
    const char* metrics;
    const char* policy;
    const char* decision; /* optimize: {"verdict": "approved"|"needs_signoff"|"rejected",
                             "approvals_required": n} */
    const char* environment;
    const char* note; /* free text; NULL = "" */
} hone_change_record;

HONE_API hone_status hone_change_record_init(hone_change_record* record);

/* Opens (does not create) the ledger at `path`; the file appears with the first append. */
HONE_API hone_status hone_ledger_open(const char* path, hone_ledger** out);
HONE_API void hone_ledger_destroy(hone_ledger* ledger);

/* Appends a record (signed when `key` is not NULL); `seq` (may be NULL) receives its number.
 * Fails with HONE_ERROR_VERIFICATION_FAILED, writing nothing, when the ledger does not verify. */
HONE_API hone_status hone_ledger_append(hone_ledger* ledger, const hone_change_record* record,
                                        const hone_key* key, uint64_t* seq);

typedef struct hone_verify_params {
    size_t struct_size;
    int require_signatures;           /* every record must be signed; default 0 */
    const char* const* trusted_actors; /* actor i must sign with trusted_keys[i] (hex) */
    const char* const* trusted_keys;
    size_t trusted_count;
} hone_verify_params;

HONE_API hone_status hone_verify_params_init(hone_verify_params* params);

typedef struct hone_verify_result {
    int ok;                /* 1 when the whole ledger verifies */
    uint64_t records;      /* records verified before the first problem */
    uint64_t first_bad;    /* line of the first problem; 0 = the head file */
    const char* problem;   /* "" when ok; valid until the next call on this ledger handle */
} hone_verify_result;

/* Checks the whole ledger. A bad ledger is a result (ok = 0), not an error; errors are for
 * unreadable files. `params` may be NULL (defaults). */
HONE_API hone_status hone_ledger_verify(hone_ledger* ledger, const hone_verify_params* params,
                                        hone_verify_result* out);

typedef enum hone_artifact_verdict {
    HONE_ARTIFACT_APPROVED = 0,
    HONE_ARTIFACT_NEEDS_SIGNOFF = 1,
    HONE_ARTIFACT_REJECTED = 2,
    HONE_ARTIFACT_UNKNOWN = 3 /* not in the ledger, or the ledger does not verify */
} hone_artifact_verdict;

typedef struct hone_artifact_status {
    hone_artifact_verdict verdict;
    uint64_t seq;               /* the optimize record that matched, 0 if none */
    uint64_t approvals_missing; /* for HONE_ARTIFACT_NEEDS_SIGNOFF */
    char sha256[65];            /* the file's SHA-256 as hashed now */
    const char* reason;         /* valid until the next call on this ledger handle */
} hone_artifact_status;

/* Whether the exact bytes of `path` were approved (see docs/ledger.md for the rules). */
HONE_API hone_status hone_ledger_check_artifact(hone_ledger* ledger, const char* path,
                                                const hone_verify_params* params,
                                                hone_artifact_status* out);

#ifdef __cplusplus
}
#endif

#endif /* HONE_H */
