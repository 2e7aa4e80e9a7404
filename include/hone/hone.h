/*
 * hone.h — the C ABI of hone. Pure C99; this header is the specification.
 *
 * Contents, in the order of hone's layers (a section uses only what comes before it); each
 * section opens with a banner comment "---- <name> ----", so search for "---- <name>":
 *   1 core        status and errors; versions; threads; element types; tensors
 *   2 kernels     SIMD tier; kernels: quantize and reductions; kernels: sparsity, clustering,
 *                 norms; kernels: GEMM and convolution; kernels: weight-only low-bit GEMV/GEMM
 *   3 algorithms  quantizer: weights; calibration: activations; pruning; clustering
 *   4 models      models; graph executor; runner; QDQ export; safetensors files; data sources
 *   3 algorithms  fine-tuning (it trains a hone_model, so it follows the models)
 *   5 assurance   validation; policy; metrics; language models; change ledger; trust store;
 *                 ledger verification and artifact checks; load-time check; CycloneDX ML-BOM
 *   5b flow       optimize flow
 *
 * Conventions
 *  - Every function returns a hone_status; HONE_OK (0) is success. On failure, out-parameters
 *    are left untouched (except `*needed`, see Strings) and hone_last_error() gives a message
 *    for this thread that names what was wrong and where. Nothing is ever thrown or aborted
 *    across this boundary.
 *  - Objects are opaque handles made by hone_X_create(const hone_X_params*, hone_X** out) and
 *    freed by hone_X_destroy(hone_X*), which accepts NULL. The exceptions are named for where
 *    the object comes from, and are destroyed the same way:
 *      read:     hone_model_load_onnx, hone_safetensors_open(_memory), hone_ledger_open,
 *                hone_key_load_pem, hone_trust_store_load / _parse, hone_tensor_wrap
 *      made:     hone_key_generate, hone_model_to_qdq, hone_model_get_weight,
 *                hone_safetensors_get, hone_executor_run (its output tensors)
 *      results:  hone_quantizer_run (hone_quantized_tensor), hone_cluster (hone_clustered),
 *                hone_sparse_encode, hone_prune_channels, hone_validate (hone_validation),
 *                hone_load_check_buffer / _fd (hone_load_check), hone_optimize
 *                (hone_optimize_result), hone_finetune_start (hone_finetune)
 *  - Params structs start with `size_t struct_size`; fill them with hone_X_params_init(), which
 *    sets struct_size and the defaults, then change the fields you need. Structs only grow at
 *    the end, so a program built against an older header keeps working.
 *  - Output structs that a function fills (e.g. hone_model_info, hone_validation_summary) start
 *    with `size_t struct_size` too: set it to sizeof the struct before the call; hone refuses a
 *    size below the struct's first version and writes at most struct_size bytes (setting it to
 *    what it wrote). Structs hone passes to callbacks (hone_train_progress) carry their size.
 *  - Enum values are fixed forever; new values are appended.
 *  - Sizes and dimensions are int64_t (a dimension is ≥ 0); strides are in elements.
 *  - Strings. Every string a function gives back, except the constants below, is copied into
 *    the caller's memory through three arguments `char* buffer, size_t capacity, size_t* needed`:
 *      - when `capacity` holds the text and its NUL, the text is copied into `buffer`,
 *        NUL-terminated, and the call succeeds;
 *      - else it fails with HONE_ERROR_OUT_OF_RANGE and writes nothing into `buffer`;
 *      - in both cases `*needed` (may be NULL) receives the size of text + NUL, at least 1;
 *      - `buffer` may be NULL only with capacity 0: that call asks for the size (it fails with
 *        HONE_ERROR_OUT_OF_RANGE); call again with a buffer of `*needed` bytes.
 *    hone_validation_decide, whose text is optional, takes NULL / 0 as "not wanted" and succeeds.
 *    The only strings hone hands out as `const char*` are static constants, valid for the life of
 *    the process: hone_status_string, hone_dtype_name, hone_isa_name (names of enum values),
 *    hone_version and hone_onednn_info; and hone_last_error(), this thread's message, valid until
 *    the next hone call on this thread. Outside this rule: the `const char*` fields of output
 *    structs (hone_model_info, hone_layer_error_info, hone_lm_slice_metrics, hone_verify_result,
 *    hone_artifact_status, hone_load_check_info) point into a handle for the lifetime each field
 *    states, and a string hone passes to a callback is valid during that call.
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
#define HONE_ABI_VERSION 2
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
    HONE_ERROR_INTERNAL = 11,            /* a bug in hone */
    HONE_ERROR_CANCELLED = 12            /* the caller cancelled (a progress callback) */
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

/* ---- kernels: quantize and reductions -------------------------------------------------------- */

/* Min/max and abs-max reductions of F32 tensors, and linear quantization exactly as ONNX
 * QuantizeLinear / DequantizeLinear (opset 21); C++: hone/kernels/reduce.hpp, quantize.hpp.
 * Every SIMD tier returns the same bits as HONE_ISA_SCALAR, for any thread count.
 *
 * Granularity (which elements share one result, scale and zero point), for a tensor of rank r:
 *  - PER_TENSOR: one value; result shape [] (rank 0);
 *  - PER_CHANNEL along `axis` (in [-r, r), negative counts from the end): one value per index
 *    of that axis; result shape [dims[axis]];
 *  - PER_GROUP along `axis` with `group_size` B (B >= 1 dividing dims[axis]): one value per B
 *    consecutive indices of the axis; result shape = dims with dims[axis] / B.
 * For a matrix [rows, cols]: per row = PER_CHANNEL axis 0; per column = PER_CHANNEL axis 1;
 * groups of g elements along each row = PER_GROUP axis 1, group_size g. */
typedef enum hone_granularity {
    HONE_GRANULARITY_PER_TENSOR = 0,
    HONE_GRANULARITY_PER_CHANNEL = 1,
    HONE_GRANULARITY_PER_GROUP = 2
} hone_granularity;

typedef struct hone_reduce_params {
    size_t struct_size;           /* sizeof(hone_reduce_params), set by _init */
    hone_granularity granularity; /* default HONE_GRANULARITY_PER_TENSOR */
    int axis;                     /* default 0; ignored for PER_TENSOR */
    int64_t group_size;           /* default 0; PER_GROUP only */
} hone_reduce_params;

HONE_API hone_status hone_reduce_params_init(hone_reduce_params* params);

/* The result shape of a reduction (and of the matching scale / zero point) for an input of
 * shape dims[0..rank): written to out_dims (capacity >= the result's rank, else
 * HONE_ERROR_OUT_OF_RANGE) and its rank to *out_rank. params NULL = defaults. */
HONE_API hone_status hone_reduced_shape(const int64_t* dims, size_t rank,
                                        const hone_reduce_params* params, int64_t* out_dims,
                                        size_t capacity, size_t* out_rank);

/* min and max of `src` (F32, any strides) per params, into `min` and `max` (F32, contiguous,
 * of the reduced shape). Rules: if a reduced set holds a NaN, its min and max are NaN (the
 * quiet NaN 0x7fc00000), so callers can detect bad data; -0 orders below +0; an empty set gives
 * min = +inf, max = -inf. params NULL = per tensor. */
HONE_API hone_status hone_min_max(const hone_tensor* src, const hone_reduce_params* params,
                                  hone_tensor* min, hone_tensor* max);
/* max |x| per params into `dst` (as hone_min_max); NaN as above; an empty set gives +0. */
HONE_API hone_status hone_abs_max(const hone_tensor* src, const hone_reduce_params* params,
                                  hone_tensor* dst);

/* Quantize:   y = saturate(round_half_to_even(x / scale) + zero_point)
 * Dequantize: y = (x - zero_point) * scale
 * Quantized types: HONE_DTYPE_I8 [-128, 127], U8 [0, 255], I4 [-8, 7], U4 [0, 15]; I4/U4 packed
 * two per byte, element 2k in the low nibble of byte k (an odd count leaves the last high nibble
 * zero). x / scale is a true division, as ONNX. ±inf saturate; NaN quantizes to the zero point.
 *
 * The granularity comes from the scale's shape, as ONNX (x of rank r):
 *  - per tensor: scale has one element and rank 0 or 1 (block_size 0);
 *  - per axis:   block_size 0 and scale is 1-D of length dims[axis];
 *  - blocked:    block_size B > 0 and scale has x's shape with dims[axis] / B (B must divide
 *                dims[axis]; ONNX would allow a ragged last block, hone refuses it).
 * scale: F32, every value finite and > 0. zero_point: NULL (= 0) or of the scale's shape and
 * of the quantized type. These are exactly the shapes hone_reduced_shape gives. */
typedef struct hone_quantize_params {
    size_t struct_size; /* sizeof(hone_quantize_params), set by _init */
    int axis;           /* default 1, as ONNX; used by per-axis and blocked */
    int64_t block_size; /* default 0 */
} hone_quantize_params;

HONE_API hone_status hone_quantize_params_init(hone_quantize_params* params);

/* x: F32 (any strides); y: I8, U8, I4 or U4 of x's shape. params NULL = defaults. Errors:
 * HONE_ERROR_DTYPE_MISMATCH (x not F32, y not quantized, scale not F32, zero point of another
 * type than y), HONE_ERROR_SHAPE_MISMATCH (x vs y, scale vs granularity, zero point vs scale),
 * HONE_ERROR_INVALID_ARGUMENT (axis out of range, block_size < 0 or not dividing the axis,
 * scale[i] <= 0, inf or NaN). y is untouched on failure. */
HONE_API hone_status hone_quantize_linear(const hone_tensor* x, const hone_tensor* scale,
                                          const hone_tensor* zero_point,
                                          const hone_quantize_params* params, hone_tensor* y);
/* x: I8, U8, I4 or U4; y: F32 of x's shape; zero_point NULL or of x's type. As above. */
HONE_API hone_status hone_dequantize_linear(const hone_tensor* x, const hone_tensor* scale,
                                            const hone_tensor* zero_point,
                                            const hone_quantize_params* params, hone_tensor* y);

/* How hone_choose_qparams maps a range onto the integers. */
typedef enum hone_quant_scheme {
    /* scale = (rmax - rmin) / (qmax - qmin); zero_point = saturate(round_half_even(qmin -
     * rmin / scale)); for U8 exactly ONNX DynamicQuantizeLinear. */
    HONE_QUANT_AFFINE = 0,
    /* a = max(-rmin, rmax). Signed: zero_point 0, scale = a / qmax (range [-qmax, qmax]).
     * Unsigned: zero_point 128 (U8) / 8 (U4), scale = a / (qmax - zero_point). */
    HONE_QUANT_SYMMETRIC = 1
} hone_quant_scheme;

/* Scale and zero point for values in [min, max] quantized to `dtype` (I8, U8, I4, U4). The
 * range is widened to include 0 (rmin = min(min, 0), rmax = max(max, 0)), so 0 is exact and
 * every value of the range quantizes within the type's range. A zero-width range (all zeros, or
 * the empty-set identities min = +inf, max = -inf) gives scale 1. Fails with
 * HONE_ERROR_INVALID_ARGUMENT for NaN, an infinite bound, min > max, or a range too wide for a
 * finite scale; HONE_ERROR_DTYPE_MISMATCH for a non-quantized dtype. */
HONE_API hone_status hone_choose_qparams(float min, float max, hone_dtype dtype,
                                         hone_quant_scheme scheme, float* scale,
                                         int32_t* zero_point);

/* Element-wise hone_choose_qparams over tensors: min, max (F32, equal shapes, any strides) →
 * scale (F32, that shape, contiguous) and zero_point (of `dtype`, that shape, contiguous), ready
 * for hone_quantize_linear. Nothing is written unless every element succeeds. */
HONE_API hone_status hone_choose_qparams_tensor(const hone_tensor* min, const hone_tensor* max,
                                                hone_dtype dtype, hone_quant_scheme scheme,
                                                hone_tensor* scale, hone_tensor* zero_point);

/* ---- kernels: sparsity, clustering, norms ---------------------------------------------------- */

/* How selections rank scores: by |x| (magnitude pruning) or by x itself (an importance such as
 * Wanda's |W|·‖X‖). -0 equals +0; a NaN score is HONE_ERROR_INVALID_ARGUMENT naming its
 * position. Ties always go to the LOWER flat (row-major) index, on every SIMD tier. */
typedef enum hone_score_kind { HONE_SCORE_MAGNITUDE = 0, HONE_SCORE_VALUE = 1 } hone_score_kind;

/* Keeps the `keep` largest-ranked entries of `scores` (F32, contiguous, any shape): mask
 * (U8 or BOOL, same shape, contiguous) gets 1 for them and 0 elsewhere; exact and O(n).
 * `threshold` (may be NULL) receives the key of the weakest kept entry (|x| or x; +inf when keep
 * is 0). keep outside [0, numel] is HONE_ERROR_INVALID_ARGUMENT. */
HONE_API hone_status hone_topk_mask(const hone_tensor* scores, int64_t keep, hone_score_kind kind,
                                    hone_tensor* mask, float* threshold);

/* N:M mask of scores [rows, cols] (F32, contiguous; rank 1 = one row): in each group of m
 * consecutive entries along a row exactly n are kept (ties to the lower column). Requires
 * 1 <= n < m <= 32 and cols % m == 0 (else HONE_ERROR_INVALID_ARGUMENT). mask: U8 or BOOL of the
 * same shape. */
HONE_API hone_status hone_nm_mask(const hone_tensor* scores, int n, int m, hone_score_kind kind,
                                  hone_tensor* mask);

/* dst = src where mask != 0 (bit-identical), +0.0f where mask == 0 (never -0). src, dst: F32
 * contiguous of one shape (dst may be src); mask: U8 or BOOL of that shape. */
HONE_API hone_status hone_apply_mask(const hone_tensor* src, const hone_tensor* mask,
                                     hone_tensor* dst);

/* indices (U8, shape of values) = index of the centroid nearest to each value, in exact
 * arithmetic, ties (exact midpoints, equal centroids) to the lower index; +inf/-inf go to the
 * last/first. values: F32 contiguous; centroids: F32 rank 1, 1…256 finite, non-decreasing. */
HONE_API hone_status hone_nearest_centroid(const hone_tensor* values, const hone_tensor* centroids,
                                           hone_tensor* indices);

/* dst (F32, shape of indices) = codebook[indices] (U8); an index >= the codebook's length is
 * HONE_ERROR_OUT_OF_RANGE naming its position. codebook: F32 rank 1, 1…256 entries. */
HONE_API hone_status hone_codebook_lookup(const hone_tensor* indices, const hone_tensor* codebook,
                                          hone_tensor* dst);

typedef enum hone_norm {
    HONE_NORM_SUM_SQUARES = 0, /* Σ x² */
    HONE_NORM_L2 = 1,          /* √(Σ x²) */
    HONE_NORM_L1 = 2           /* Σ |x| */
} hone_norm;

/* Norm of every row (dst [rows]) or column (dst [cols]) of src [rows, cols]; all F32,
 * contiguous. Summed in double, rounded once to F32; NaN/inf propagate. */
HONE_API hone_status hone_row_norms(const hone_tensor* src, hone_norm norm, hone_tensor* dst);
HONE_API hone_status hone_col_norms(const hone_tensor* src, hone_norm norm, hone_tensor* dst);

/* Palettized weights W [rows, cols] (docs/formats.md, "Palettized weights"): each entry is a
 * `bits`-bit index (1…8) into its row group's codebook. Indices are packed per row as an
 * LSB-first bitstream, each row starting on a byte boundary: a U8 tensor [rows, row_bytes] with
 * row_bytes = ceil(cols·bits/8). Codebooks: F32 or F16 [groups, 2^bits], groups =
 * ceil(rows / rows_per_group). */
typedef struct hone_palettized_params {
    size_t struct_size;     /* sizeof(hone_palettized_params) */
    int bits;               /* 1…8; default 4 */
    int64_t cols;           /* K, the reduction axis; default 0 */
    int64_t rows_per_group; /* rows sharing a codebook; 0 (default) = one codebook per tensor,
                               1 = one per output channel */
} hone_palettized_params;

HONE_API hone_status hone_palettized_params_init(hone_palettized_params* params);

/* *out = ceil(cols·bits/8), the bytes of one packed row. */
HONE_API hone_status hone_packed_row_bytes(int64_t cols, int bits, size_t* out);

/* Packs indices (U8 [rows, cols], each < 2^bits, else HONE_ERROR_OUT_OF_RANGE naming row and
 * column) into packed (U8 [rows, row_bytes]). */
HONE_API hone_status hone_pack_indices(const hone_tensor* indices, int bits, hone_tensor* packed);
/* The inverse: packed (U8 [rows, row_bytes]) → indices (U8 [rows, cols]). */
HONE_API hone_status hone_unpack_indices(const hone_tensor* packed, int bits, hone_tensor* indices);

/* dst (F32 [rows, cols]) = W decoded through its codebooks. */
HONE_API hone_status hone_palettized_decode(const hone_palettized_params* params,
                                            const hone_tensor* packed, const hone_tensor* codebooks,
                                            hone_tensor* dst);

/* y = x · Wᵀ (+ bias): x F32 [M, cols] (or [cols] for M = 1), y F32 [M, rows] (or [rows]),
 * bias NULL or F32 [rows]. M = 1 runs hone's SIMD kernel straight off the packed indices;
 * M > 1 decodes W once and runs an F32 matmul. */
HONE_API hone_status hone_palettized_matmul(const hone_palettized_params* params,
                                            const hone_tensor* packed, const hone_tensor* codebooks,
                                            const hone_tensor* x, const hone_tensor* bias,
                                            hone_tensor* y);

/* ---- kernels: GEMM and convolution -------------------------------------------------------------
 */

/* oneDNN-backed products. Tensors are contiguous, row-major; errors as the C++ API
 * (hone/kernels/gemm.hpp, conv.hpp): HONE_ERROR_SHAPE_MISMATCH / _DTYPE_MISMATCH /
 * _INVALID_ARGUMENT naming the argument. Outputs are untouched on failure unless noted. */

typedef enum hone_gemm_type {
    HONE_GEMM_F32 = 0,  /* f32 x f32 -> f32 */
    HONE_GEMM_BF16 = 1, /* operands rounded to bf16 (nearest even), f32 accumulation */
    HONE_GEMM_INT8 = 2  /* u8 activations x s8 weights -> exact s32 -> f32 (scales, zero point) */
} hone_gemm_type;

typedef enum hone_weight_layout {
    HONE_WEIGHTS_K_BY_N = 0, /* B is [K, N] */
    HONE_WEIGHTS_N_BY_K = 1  /* B is [N, K]: one row per output channel (nn.Linear.weight) */
} hone_weight_layout;

typedef enum hone_act_quant {
    HONE_ACT_STATIC_PER_TENSOR = 0,  /* act_scale / act_zero_point fixed at creation */
    HONE_ACT_DYNAMIC_PER_TENSOR = 1, /* u8 affine scale and zero point from min/max per call */
    HONE_ACT_DYNAMIC_PER_ROW = 2     /* the same for each row of the input */
} hone_act_quant;

/* c[M,N] = a[M,K] . b (+ bias[N]); type HONE_GEMM_F32 or HONE_GEMM_BF16; all F32; bias may be
 * NULL. The oneDNN primitive of each shape is cached process-wide. */
HONE_API hone_status hone_matmul(hone_gemm_type type, const hone_tensor* a, const hone_tensor* b,
                                 hone_weight_layout b_layout, const hone_tensor* bias,
                                 hone_tensor* c);

/* h[K,K] += x^T . x for a calibration batch x[rows, K]; both F32 (GPTQ / SparseGPT Hessian). */
HONE_API hone_status hone_hessian_accumulate(const hone_tensor* x, hone_tensor* h);

/* oneDNN's effective CPU ISA ("avx2", "avx512_core_vnni", ...) and version ("2.6.3"); static
 * strings; either pointer may be NULL. *int8_saturates (may be NULL) is 1 when oneDNN's u8.s8
 * kernels add product pairs in 16 bits here (no VNNI): exact int8 layers then split. */
HONE_API hone_status hone_onednn_info(const char** isa, const char** version, int* int8_saturates);

/* A linear layer y = x . W (+ bias), optional ReLU, configured once and run many times. int8:
 *   q = saturate_u8(round_half_even(x / s_a) + z_a); acc = sum_k (q - z_a) . q_w (exact)
 *   y = s_a . s_w[n] . acc + bias[n]
 * f32 weights are quantized symmetrically per output channel (s_w = max|w| / 127); dynamic
 * activations use s_a = (hi - lo) / 255, z_a = round(-lo / s_a) over [min(0,lo), max(0,hi)].
 * Weights are reordered once; primitives are cached per M inside the object. hone_linear_run
 * may be called concurrently on one object. */
typedef struct hone_linear hone_linear;

typedef struct hone_linear_params {
    size_t struct_size;         /* sizeof(hone_linear_params) */
    hone_gemm_type type;        /* default HONE_GEMM_F32 */
    int64_t k;                  /* input features, >= 1 (no default: 0) */
    int64_t n;                  /* output features, >= 1 (no default: 0) */
    hone_weight_layout layout;  /* default HONE_WEIGHTS_N_BY_K */
    int relu;                   /* nonzero: max(0, y) after the bias; default 0 */
    hone_act_quant activations; /* int8; default HONE_ACT_DYNAMIC_PER_TENSOR */
    float act_scale;            /* int8 static: > 0, finite; default 1 */
    int32_t act_zero_point;     /* int8 static: 0..255; default 0 */
    int exact;        /* int8: nonzero (default) keeps s32 accumulation exact on CPUs whose oneDNN
                       * kernels saturate pairs of products in 16 bits (split, ~half speed there) */
    int reduce_range; /* int8: nonzero quantizes activations to 7 bits, 0..127 (dynamic
                       * s_a = (hi - lo) / 127; static act_zero_point in 0..127, act_scale the
                       * step of a 0..127 grid, U8 src <= 127): exact without a split, full
                       * speed everywhere. Default 0; callers built before this field (smaller
                       * struct_size) get 0. */
} hone_linear_params;

HONE_API hone_status hone_linear_params_init(hone_linear_params* params);

/* weights: F32 ([N, K] or [K, N] per params->layout; quantized for int8), or I8 (int8 only)
 * with weight_scales F32 [N] (> 0); weight_scales must be NULL for F32 weights. bias: F32 [N]
 * or NULL. The layer copies what it needs: the tensors may be freed afterwards. */
HONE_API hone_status hone_linear_create(const hone_linear_params* params,
                                        const hone_tensor* weights,
                                        const hone_tensor* weight_scales, const hone_tensor* bias,
                                        hone_linear** out);
/* dst[M, N] (F32) = layer(src[M, K]); src F32, or U8 (int8 with static activations, already
 * quantized with act_scale / act_zero_point). */
HONE_API hone_status hone_linear_run(const hone_linear* layer, const hone_tensor* src,
                                     hone_tensor* dst);
HONE_API void hone_linear_destroy(hone_linear* layer);

/* 2-D convolution, NCHW: src [N, C, H, W] -> dst [N, OC, OH, OW], weights [OC, C/groups, KH,
 * KW]; OH = (H + pad_top + pad_bottom - dilation_h*(KH-1) - 1) / stride_h + 1 (same for W).
 * int8 uses static activations (act_scale, act_zero_point) and per-output-channel weight
 * scales, as hone_linear. */
typedef struct hone_conv2d hone_conv2d;

typedef struct hone_conv2d_params {
    size_t struct_size;                /* sizeof(hone_conv2d_params) */
    hone_gemm_type type;               /* HONE_GEMM_F32 (default) or HONE_GEMM_INT8 */
    int64_t in_channels, out_channels; /* >= 1, divisible by groups */
    int64_t kernel_h, kernel_w;        /* default 1 */
    int64_t stride_h, stride_w;        /* default 1 */
    int64_t pad_top, pad_left, pad_bottom, pad_right; /* default 0 */
    int64_t dilation_h, dilation_w;                   /* 1 = dense (ONNX); default 1 */
    int64_t groups;                                   /* default 1 */
    int relu;                                         /* default 0 */
    float act_scale;                                  /* int8: default 1 */
    int32_t act_zero_point;                           /* int8: default 0 */
} hone_conv2d_params;

HONE_API hone_status hone_conv2d_params_init(hone_conv2d_params* params);
/* weights F32, or I8 with weight_scales F32 [OC] (int8 only); bias F32 [OC] or NULL. */
HONE_API hone_status hone_conv2d_create(const hone_conv2d_params* params,
                                        const hone_tensor* weights,
                                        const hone_tensor* weight_scales, const hone_tensor* bias,
                                        hone_conv2d** out);
/* dst must have the shape hone_conv2d_output_shape gives. src F32 (int8: or U8). */
HONE_API hone_status hone_conv2d_run(const hone_conv2d* conv, const hone_tensor* src,
                                     hone_tensor* dst);
/* dims[4] = [N, OC, OH, OW] for src_dims[4] = [N, C, H, W]. */
HONE_API hone_status hone_conv2d_output_shape(const hone_conv2d* conv, const int64_t* src_dims,
                                              int64_t* dims);
HONE_API void hone_conv2d_destroy(hone_conv2d* conv);

/* ---- kernels: weight-only low-bit GEMV/GEMM ----------------------------------------------------
 */

/* Int4 group-wise weights W [N, K] (N output rows, K the reduction axis, as nn.Linear.weight),
 * cut along K into groups of g weights, each group with an f32 or f16 scale and, when
 * asymmetric, a 4-bit zero point. Value of a weight: (q - zp) * scale (zp = 0 when symmetric).
 * Packed form (docs/formats.md, "weight-only int4 group-wise"): weights I4 (symmetric) or U4
 * (asymmetric) [N, K], two per byte, element 2i in the low nibble of byte i; scales F32 or F16
 * [N, K/g]; zero points U4 [N, K/g], packed the same way. The handle owns a copy. */
typedef struct hone_int4_weights hone_int4_weights;

typedef struct hone_int4_weights_params {
    size_t struct_size;     /* sizeof(hone_int4_weights_params), set by _params_init */
    int64_t group_size;     /* g: even, >= 2, divides K; default 128 (32, 64, 128, 256... are
                               fastest: multiples of 32) */
    int symmetric;          /* 1 (default): I4, scale = max|w| / 7, q = clamp(round(w / scale),
                               -8, 7). 0: U4 over [min(0, min w), max(0, max w)], scale =
                               (hi - lo) / 15, zp = clamp(round(-lo / scale), 0, 15), q =
                               clamp(round(w / scale) + zp, 0, 15). round = half to even; an
                               all-zero group gets scale 1. */
    hone_dtype scale_dtype; /* HONE_DTYPE_F32 (default) or HONE_DTYPE_F16 (rounded first) */
} hone_int4_weights_params;

HONE_API hone_status hone_int4_weights_params_init(hone_int4_weights_params* params);

/* Quantizes F32 weights [N, K] (any strides) with the params above. Fails with
 * HONE_ERROR_INVALID_ARGUMENT for a group size that is odd, < 2 or does not divide K, a
 * non-finite weight, or an F16 scale out of the F16 range; HONE_ERROR_DTYPE_MISMATCH for weights
 * that are not F32 or a scale_dtype other than F32/F16; HONE_ERROR_SHAPE_MISMATCH for rank != 2. */
HONE_API hone_status hone_int4_weights_create(const hone_int4_weights_params* params,
                                              const hone_tensor* weights, hone_int4_weights** out);

/* Copies weights that are already packed: weights I4/U4 [N, K], scales F32/F16 [N, K/g],
 * zero_points U4 [N, K/g] for U4 weights and NULL for I4. Only params->group_size is read
 * (the rest comes from the tensors). Validated as hone_int4_matmul validates. */
HONE_API hone_status hone_int4_weights_create_packed(const hone_int4_weights_params* params,
                                                     const hone_tensor* weights,
                                                     const hone_tensor* scales,
                                                     const hone_tensor* zero_points,
                                                     hone_int4_weights** out);

HONE_API void hone_int4_weights_destroy(hone_int4_weights* weights);

/* N and K; either pointer may be NULL. */
HONE_API hone_status hone_int4_weights_shape(const hone_int4_weights* weights, int64_t* n,
                                             int64_t* k);
/* The parameters the weights have: group_size, symmetric and scale_dtype are written into
 * *params, whose struct_size must be set (hone_int4_weights_params_init). */
HONE_API hone_status hone_int4_weights_get_params(const hone_int4_weights* weights,
                                                  hone_int4_weights_params* params);
/* Bytes of the packed form: weights + scales + zero points. */
HONE_API hone_status hone_int4_weights_nbytes(const hone_int4_weights* weights, size_t* out);

/* Copies the packed parts into caller tensors of exactly the dtypes and shapes above
 * (contiguous): weights I4/U4 [N, K], scales [N, K/g]; zero_points U4 [N, K/g] for asymmetric
 * weights, and must be NULL for symmetric ones. Nothing is written on failure. */
HONE_API hone_status hone_int4_weights_export(const hone_int4_weights* weights, hone_tensor* packed,
                                              hone_tensor* scales, hone_tensor* zero_points);

/* dst F32 [N, K] (contiguous) = (q - zp) * scale, exactly. */
HONE_API hone_status hone_int4_weights_dequantize(const hone_int4_weights* weights,
                                                  hone_tensor* dst);

/* y = x * W^T (+ bias): x F32 [M, K] -> y F32 [M, N], or x [K] -> y [N]; bias F32 [N] or NULL.
 * x and y contiguous and not overlapping. M <= 16 (once per row) runs hone's SIMD
 * GEMV: within (g + K/g + 16) * 2^-24 * (sum |w*x| + |bias|) of the exact result, the same for
 * any thread count; inf/NaN in x propagate as in the exact formula (a zero weight times inf is
 * NaN). Larger M dequantizes W in blocks (<= 8 MiB scratch, not cached) and runs an f32 GEMM
 * (oneDNN). Fails with SHAPE_MISMATCH or DTYPE_MISMATCH naming the operand; y is untouched on
 * failure. */
HONE_API hone_status hone_int4_matmul(const hone_int4_weights* weights, const hone_tensor* x,
                                      const hone_tensor* bias, hone_tensor* y);

/* ---- quantizer: weights (include/hone/quantize/) -----------------------------------------------
 * Weight quantization (hone/quantize/quantizer.hpp, docs/quantizer.md): RTN, clipping search,
 * GPTQ (with a Hessian, or calibration inputs), AWQ; packed tensors as handles with exact
 * dequantization and per-tensor error reports. Layouts: docs/quantizer.md. */

typedef enum hone_quant_granularity {
    HONE_QUANT_PER_TENSOR = 0,
    HONE_QUANT_PER_CHANNEL = 1, /* one scale per index of channel_axis */
    HONE_QUANT_PER_GROUP = 2    /* groups of group_size along group_axis */
} hone_quant_granularity;

/* A weight quantization scheme (C form of hone::quant_spec). */
typedef struct hone_quant_spec {
    size_t struct_size;                 /* sizeof(hone_quant_spec), set by _init */
    int bits;                           /* 2…8; default 8 */
    int is_signed;                      /* default 1: [-2^(b-1), 2^(b-1)-1]; 0: [0, 2^b-1] */
    int symmetric;                      /* default 1; 0 = affine (zero point chosen) */
    hone_quant_granularity granularity; /* default HONE_QUANT_PER_CHANNEL */
    int channel_axis;                   /* default 0 (negative counts from the end) */
    int group_axis;                     /* default -1 (the last axis, K of [N, K]) */
    int64_t group_size;                 /* default 128; must divide the group axis */
    hone_dtype scale_dtype;             /* HONE_DTYPE_F32 (default) or HONE_DTYPE_F16 */
} hone_quant_spec;

HONE_API hone_status hone_quant_spec_init(hone_quant_spec* spec);

typedef enum hone_weight_method {
    HONE_WEIGHT_RTN = 0,         /* round to nearest, min/max scales */
    HONE_WEIGHT_CLIP_SEARCH = 1, /* per group, the clip ratio minimising the error norm */
    HONE_WEIGHT_GPTQ = 2,        /* needs a Hessian or calibration inputs */
    HONE_WEIGHT_AWQ = 3          /* needs calibration inputs; returns input scales */
} hone_weight_method;

typedef struct hone_quantizer_params {
    size_t struct_size; /* sizeof(hone_quantizer_params), set by _init */
    hone_quant_spec spec;
    hone_weight_method method; /* default HONE_WEIGHT_RTN */
    int clip_steps;            /* default 20 */
    float clip_min_ratio;      /* default 0.5 */
    float clip_norm;           /* default 2 (MSE) */
    double gptq_damp_fraction; /* default 0.01 */
    int gptq_act_order;        /* default 0 */
    int64_t gptq_block_size;   /* default 128 */
    int gptq_static_groups;    /* default 0 (always static with act-order) */
    int gptq_clip_search;      /* default 0 */
    int awq_grid;              /* default 20 */
    int64_t awq_max_rows;      /* default 4096; 0 = all rows */
    int awq_clip_search;       /* default 0 */
} hone_quantizer_params;

HONE_API hone_status hone_quantizer_params_init(hone_quantizer_params* params);

typedef struct hone_quantizer hone_quantizer;
typedef struct hone_quantized_tensor hone_quantized_tensor;

/* Per-tensor error report (hone/quantize/error_report.hpp). output_* are NaN and has_output 0
 * when no calibration inputs were given. */
typedef struct hone_quant_report {
    size_t struct_size; /* set by the caller: sizeof(hone_quant_report) */
    int64_t elements;
    double mse;
    double max_abs_error;
    double sqnr_db; /* +inf when exact */
    double fraction_clipped;
    int has_output;
    double output_mse;
    double output_sqnr_db;
} hone_quant_report;

/* Validates the configuration (HONE_ERROR_INVALID_ARGUMENT naming the field). */
HONE_API hone_status hone_quantizer_create(const hone_quantizer_params* params,
                                           hone_quantizer** out);
HONE_API void hone_quantizer_destroy(hone_quantizer* quantizer);

/* Quantizes `weights` (F32, any rank for RTN / clip search; [N, K] for GPTQ / AWQ). `name`
 * (may be NULL: "weights") names the tensor in errors and the report. `inputs`: NULL or the
 * layer's calibration inputs F32 [M, K]; `hessian`: NULL or F32 [K, K] = sum of x^T x (e.g.
 * accumulated batch by batch with hone_hessian_accumulate); GPTQ uses the Hessian when given,
 * else builds it from the inputs; the report's output figures need the inputs. `out` gets a
 * new quantized tensor. `input_scales` (may be NULL): for AWQ a new F32 [K] tensor s — divide
 * the layer's inputs by s (fold 1/s into the previous op); NULL for other methods. `report`
 * (may be NULL; struct_size set) gets the error report. */
HONE_API hone_status hone_quantizer_run(const hone_quantizer* quantizer, const hone_tensor* weights,
                                        const char* name, const hone_tensor* inputs,
                                        const hone_tensor* hessian, hone_quantized_tensor** out,
                                        hone_tensor** input_scales, hone_quant_report* report);

/* A quantized tensor from its parts (copied and validated against the spec): data, scales and
 * zero points as docs/quantizer.md lays them out; zero_points NULL when signed symmetric. */
HONE_API hone_status hone_quantized_tensor_create(const hone_quant_spec* spec, const int64_t* dims,
                                                  size_t rank, const hone_tensor* data,
                                                  const hone_tensor* scales,
                                                  const hone_tensor* zero_points,
                                                  hone_quantized_tensor** out);
HONE_API void hone_quantized_tensor_destroy(hone_quantized_tensor* tensor);

HONE_API hone_status hone_quantized_tensor_spec(const hone_quantized_tensor* tensor,
                                                hone_quant_spec* out);
/* The original (f32) shape: rank to *rank, dims into `dims` (capacity >= rank, else
 * HONE_ERROR_OUT_OF_RANGE); dims may be NULL to ask for the rank only. */
HONE_API hone_status hone_quantized_tensor_shape(const hone_quantized_tensor* tensor, int64_t* dims,
                                                 size_t capacity, size_t* rank);
/* Stored bytes: data + scales + zero points. */
HONE_API hone_status hone_quantized_tensor_bytes(const hone_quantized_tensor* tensor, size_t* out);
/* New tensors holding copies of the parts; any out-pointer may be NULL to skip that part.
 * zero_points of a signed symmetric tensor is an empty tensor. */
HONE_API hone_status hone_quantized_tensor_parts(const hone_quantized_tensor* tensor,
                                                 hone_tensor** data, hone_tensor** scales,
                                                 hone_tensor** zero_points);
/* dst (F32, the original shape, any strides) = the exact dequantization. */
HONE_API hone_status hone_quantized_tensor_dequantize(const hone_quantized_tensor* tensor,
                                                      hone_tensor* dst);
/* The error report of `tensor` against `original`; inputs and input_scales may be NULL. */
HONE_API hone_status hone_quantized_tensor_measure_error(
    const hone_quantized_tensor* tensor, const hone_tensor* original, const char* name,
    const hone_tensor* inputs, const hone_tensor* input_scales, hone_quant_report* out);

/* ---- calibration: activations (include/hone/quantize/) --------------------------------------- */

/* Static activation calibration, SmoothQuant and bias correction; C++:
 * hone/quantize/calibrator.hpp, smooth_quant.hpp, bias_correction.hpp; docs/calibration.md.
 *
 * A calibrator is fed calibration batches (F32 tensors of any shape and strides) with
 * hone_calibrator_observe and keeps only a fixed-size summary (min/max, or a 2 x bins histogram
 * per channel). Methods:
 *  - MIN_MAX: exact range of all data; MOVING_AVERAGE: per-batch min/max averaged with
 *    `momentum` (torch.ao's averaging constant);
 *  - PERCENTILE: the `percentile` (affine: the (100 - p)-th and p-th of x; symmetric: p-th of
 *    |x|), within one bin width of the exact value;
 *  - ENTROPY: TensorRT-style KL-divergence threshold; MSE: the range minimising the
 *    histogram-estimated quantize-dequantize MSE;
 *  - AUTO: computes the MIN_MAX, PERCENTILE, ENTROPY and MSE candidates, then needs a second pass
 *    (hone_calibrator_score over the same batches) measuring each candidate's squared error —
 *    of the tensor itself, or of a consumer layer's output if hone_calibrator_set_consumer was
 *    called — and picks the least per channel; ties go to MIN_MAX, so it is never worse than
 *    MIN_MAX on the scored data.
 * The histogram has power-of-two range and exact pair merging: every method but MOVING_AVERAGE
 * gives the same bits for any batch split, order and thread count.
 * Scale / zero point follow hone_choose_qparams for U8 (affine: [0, 255]) or I8 (symmetric:
 * [-127, 127]); reduce_range uses U8 [0, 127] / I8 [-64, 63] (7-bit activations, as
 * hone_linear_params.reduce_range expects). */
typedef enum hone_calib_method {
    HONE_CALIB_MIN_MAX = 0,
    HONE_CALIB_MOVING_AVERAGE = 1,
    HONE_CALIB_PERCENTILE = 2,
    HONE_CALIB_ENTROPY = 3,
    HONE_CALIB_MSE = 4,
    HONE_CALIB_AUTO = 5
} hone_calib_method;

typedef struct hone_calibrator_params {
    size_t struct_size;           /* sizeof(hone_calibrator_params), set by _init */
    hone_calib_method method;     /* default HONE_CALIB_MIN_MAX */
    hone_granularity granularity; /* PER_TENSOR (default) or PER_CHANNEL */
    int axis;                     /* PER_CHANNEL: the channel axis (negative from the end) */
    hone_dtype dtype;             /* HONE_DTYPE_U8 (default) or HONE_DTYPE_I8 */
    hone_quant_scheme scheme;     /* default HONE_QUANT_AFFINE */
    int reduce_range;             /* nonzero: 7-bit activations; default 0 */
    float momentum;               /* MOVING_AVERAGE, (0, 1]; default 0.01 */
    double percentile;            /* PERCENTILE / AUTO, (0, 100]; default 99.99 */
    int64_t bins;                 /* histogram bins per sign, power of two in [16, 65536]; 2048 */
    const char* name;             /* names the tensor in errors (copied); NULL = "activation" */
} hone_calibrator_params;

typedef struct hone_calibrator hone_calibrator;

HONE_API hone_status hone_calibrator_params_init(hone_calibrator_params* params);
/* Fails with HONE_ERROR_INVALID_ARGUMENT for a bad method, percentile, momentum, bins or
 * granularity (PER_GROUP), HONE_ERROR_DTYPE_MISMATCH for a dtype other than U8/I8. */
HONE_API hone_status hone_calibrator_create(const hone_calibrator_params* params,
                                            hone_calibrator** out);
HONE_API void hone_calibrator_destroy(hone_calibrator* calibrator);
/* Adds a batch. NaN or inf fail with HONE_ERROR_INVALID_ARGUMENT naming the tensor (and the
 * channel); a batch whose rank or channel count differs from the first fails with
 * HONE_ERROR_SHAPE_MISMATCH; an empty batch changes nothing. The state is unchanged on failure
 * of validation. */
HONE_API hone_status hone_calibrator_observe(hone_calibrator* calibrator, const hone_tensor* batch);
/* AUTO, per tensor: score candidates by the output error of the next layer, y = x W^T with
 * reference weights W (F32 [N, K], K = the batch's last axis) against qdq(x) Wq^T with the
 * deployed weights Wq (same shape; NULL = W). Before the first hone_calibrator_score. */
HONE_API hone_status hone_calibrator_set_consumer(hone_calibrator* calibrator,
                                                  const hone_tensor* weights,
                                                  const hone_tensor* deployed);
/* AUTO: second pass over the calibration batches (the histogram is frozen at the first call). */
HONE_API hone_status hone_calibrator_score(hone_calibrator* calibrator, const hone_tensor* batch);
/* Number of channels (1 per tensor; 0 before the first non-empty batch). */
HONE_API hone_status hone_calibrator_channels(const hone_calibrator* calibrator, int64_t* out);
/* The result for every channel into caller tensors of `channels` elements (rank 0 or 1, any
 * strides allowed only for F32): scale F32; zero_point of the calibrator's dtype (U8 or I8) or
 * NULL; min and max F32 (the chosen range) or NULL. Fails before any non-empty batch, and for
 * AUTO before hone_calibrator_score. Nothing is written on failure. */
HONE_API hone_status hone_calibrator_result(const hone_calibrator* calibrator, hone_tensor* scale,
                                            hone_tensor* zero_point, hone_tensor* min,
                                            hone_tensor* max);
/* Per tensor shortcut: scale and zero point of channel 0 (either out-param may be NULL). */
HONE_API hone_status hone_calibrator_qparams(const hone_calibrator* calibrator, float* scale,
                                             int32_t* zero_point);

/* SmoothQuant (Xiao et al. 2022) for a linear layer y = x W^T (W F32 [N, K]):
 * s_j = max|X_j|^alpha / max|W_j|^(1 - alpha), x / s and W s. Two passes over the calibration
 * batches (F32 [M, K]): hone_smooth_quant_observe on each, then hone_smooth_quant_score on each;
 * every alpha of the grid is scored by the W8A8 output error (weights per output channel
 * symmetric int8 RTN, activations per tensor static min/max of x / s). */
typedef struct hone_smooth_quant_params {
    size_t struct_size;           /* sizeof(hone_smooth_quant_params), set by _init */
    const float* alphas;          /* alpha grid, each in [0, 1]; NULL = 0, 0.05, ..., 1 */
    size_t alpha_count;           /* entries of alphas */
    hone_dtype act_dtype;         /* U8 (default) or I8 */
    hone_quant_scheme act_scheme; /* default HONE_QUANT_AFFINE */
    int reduce_range;             /* default 0 */
    const char* name;             /* names the layer in errors; NULL = "layer" */
} hone_smooth_quant_params;

typedef struct hone_smooth_quant hone_smooth_quant;

HONE_API hone_status hone_smooth_quant_params_init(hone_smooth_quant_params* params);
HONE_API hone_status hone_smooth_quant_create(const hone_tensor* weights,
                                              const hone_smooth_quant_params* params,
                                              hone_smooth_quant** out);
HONE_API void hone_smooth_quant_destroy(hone_smooth_quant* sq);
HONE_API hone_status hone_smooth_quant_observe(hone_smooth_quant* sq, const hone_tensor* x);
HONE_API hone_status hone_smooth_quant_score(hone_smooth_quant* sq, const hone_tensor* x);
/* The best alpha, its factors (scales: F32 [K] or NULL), the folded weights W s (F32 [N, K] or
 * NULL), and the summed squared output errors without smoothing (error_before) and at the best
 * alpha (error_after); any out-param may be NULL. */
HONE_API hone_status hone_smooth_quant_result(const hone_smooth_quant* sq, float* alpha,
                                              hone_tensor* scales, hone_tensor* weights,
                                              double* error_before, double* error_after);

/* Bias correction (Nagel et al. 2019): bias_out = bias + W E[x] - Wq E[xq]. weights W and
 * deployed Wq: F32 [N, K]; bias: F32 [N] or NULL (= 0); mean_x: F32 [K], the calibration
 * inputs' mean; mean_xq: F32 [K] (the mean of the quantized inputs) or NULL (= mean_x);
 * bias_out: F32 [N] (may be bias itself). */
HONE_API hone_status hone_bias_correction(const hone_tensor* weights, const hone_tensor* deployed,
                                          const hone_tensor* bias, const hone_tensor* mean_x,
                                          const hone_tensor* mean_xq, hone_tensor* bias_out);

/* ---- pruning (include/hone/prune/) ----------------------------------------------------------- */

/* Pruning (C++: hone/prune/pruner.hpp, schedule.hpp, sparse_storage.hpp; guide: docs/pruner.md).
 * A weight tensor (F32, contiguous) is read as a matrix [rows, K]: rows = dims[0] (output
 * channels), K = numel / rows (the reduction axis, Cin·kh·kw for a conv). Functions prune in
 * place; pruned weights become +0.0f, kept ones stay bit-identical (except after SparseGPT,
 * which updates them). Masks are U8 or BOOL of the weights' shape, 1 = kept; pass NULL when not
 * wanted. A sparsity s must lie in [0, 1) and prunes exactly floor(s·n + 1/2) of n; ties go to
 * the lower flat index (kept first), so results are identical at any thread count. Errors:
 * HONE_ERROR_INVALID_ARGUMENT (sparsity outside [0, 1), N >= M, M not dividing K, NaN weights,
 * bad bounds or blocks), HONE_ERROR_SHAPE_MISMATCH (mask, norms, Hessian, consumer),
 * HONE_ERROR_DTYPE_MISMATCH; the message names the function and what was wrong. */

/* What a pruning call did. Set struct_size = sizeof(hone_prune_result) before the call. */
typedef struct hone_prune_result {
    size_t struct_size;
    int64_t total;   /* weights considered */
    int64_t pruned;  /* weights set to zero */
    float threshold; /* |w| (or score) of the weakest kept weight; +inf when none is kept */
    double loss;     /* SparseGPT: the OBS estimate sum(err^2)/2; 0 for the other methods */
} hone_prune_result;

/* *out = floor(sparsity·n + 1/2), the count any sparsity-based call prunes. */
HONE_API hone_status hone_pruned_count(double sparsity, int64_t n, int64_t* out);

/* Unstructured magnitude pruning of one tensor to an exact sparsity (O(n) selection). */
HONE_API hone_status hone_prune_magnitude(hone_tensor* weights, double sparsity, hone_tensor* mask,
                                          hone_prune_result* result);

/* Global magnitude pruning of `count` tensors: exactly round(s·N) of all N weights, by one |w|
 * threshold, with each layer's count clamped to [ceil(min·n), floor(max·n)]. min_sparsity /
 * max_sparsity: NULL (0 and 0.999) or `count` values; masks: NULL or `count` entries (each
 * may be NULL); results: NULL or `count` structs (struct_size set). */
HONE_API hone_status hone_prune_global(hone_tensor* const* weights, size_t count, double sparsity,
                                       const double* min_sparsity, const double* max_sparsity,
                                       hone_tensor* const* masks, hone_prune_result* results);

/* N:M semi-structured magnitude pruning along K: each group of m keeps its n largest |w|
 * (1 <= n < m <= 32, K % m == 0). */
HONE_API hone_status hone_prune_n_m(hone_tensor* weights, int n, int m, hone_tensor* mask,
                                    hone_prune_result* result);

typedef enum hone_importance {
    HONE_IMPORTANCE_L1 = 0,                 /* sum |w| */
    HONE_IMPORTANCE_L2 = 1,                 /* sqrt(sum w^2) */
    HONE_IMPORTANCE_ACTIVATION_WEIGHTED = 2 /* sum_k |w_k|·||X_k||_2 (channels only) */
} hone_importance;

/* Block sparsity: whole block_rows × block_cols blocks (dividing [rows, K]) of least L1/L2 norm
 * are zeroed, round(s·blocks) of them. */
HONE_API hone_status hone_prune_blocks(hone_tensor* weights, int64_t block_rows, int64_t block_cols,
                                       double sparsity, hone_importance importance,
                                       hone_tensor* mask, hone_prune_result* result);

typedef struct hone_channel_prune_params {
    size_t struct_size;            /* sizeof(hone_channel_prune_params) */
    double sparsity;               /* fraction of output channels removed; default 0.5 */
    hone_importance importance;    /* default HONE_IMPORTANCE_L2 */
    const float* activation_norms; /* ACTIVATION_WEIGHTED: K values, or Cin for a conv */
    size_t activation_norms_count; /* default 0 */
    int64_t consumer_group;        /* consumer inputs per channel (H·W after a flatten); 1 */
} hone_channel_prune_params;

HONE_API hone_status hone_channel_prune_params_init(hone_channel_prune_params* params);

/* Structured pruning: removes whole output channels (rows, conv filters) of least importance and
 * returns new, smaller tensors: *out_weights [kept, ...]; *out_bias [kept] when bias is given;
 * *out_consumer (the next layer's weights [out2, kept·group, ...], its input axis 1) when
 * consumer is given; *out_kept (I64 [kept], ascending channel indices). bias, consumer and the
 * out_bias / out_consumer / out_kept pointers may be NULL. Kept channels are bit-identical;
 * ties remove the higher channel. The caller destroys the returned tensors. */
HONE_API hone_status hone_prune_channels(const hone_channel_prune_params* params,
                                         const hone_tensor* weights, const hone_tensor* bias,
                                         const hone_tensor* consumer, hone_tensor** out_weights,
                                         hone_tensor** out_bias, hone_tensor** out_consumer,
                                         hone_tensor** out_kept);

/* Streaming statistics of a layer's inputs X [tokens, K]: H = sum X^T·X (SparseGPT) and the
 * column norms ||X_k||_2 (Wanda). */
typedef struct hone_layer_stats hone_layer_stats;

/* with_hessian = 0 skips H (K^2 floats), enough for Wanda. */
HONE_API hone_status hone_layer_stats_create(int64_t k, int with_hessian, hone_layer_stats** out);
HONE_API void hone_layer_stats_destroy(hone_layer_stats* stats);
/* Adds a batch x: F32 contiguous [tokens, K] (or [K]); non-finite inputs are an error. */
HONE_API hone_status hone_layer_stats_add(hone_layer_stats* stats, const hone_tensor* x);
HONE_API hone_status hone_layer_stats_tokens(const hone_layer_stats* stats, int64_t* out);
/* Copies H into dst (F32 [K, K]). */
HONE_API hone_status hone_layer_stats_hessian(const hone_layer_stats* stats, hone_tensor* dst);
/* Writes ||X_k||_2 into dst (F32 [K]). */
HONE_API hone_status hone_layer_stats_column_norms(const hone_layer_stats* stats, hone_tensor* dst);

/* Wanda: scores |W_rk|·||X_k||_2 (activation_norms F32 [K]), compared within each output row
 * (every row loses round(s·K)), or N:M groups when n > 0 (then sparsity is ignored). */
HONE_API hone_status hone_prune_wanda(hone_tensor* weights, const hone_tensor* activation_norms,
                                      double sparsity, int n, int m, hone_tensor* mask,
                                      hone_prune_result* result);

/* SparseGPT joint quantization hook: replace values[0..count) (column `column` of W, in order
 * 0…K-1, after its mask) by their quantized (dequantized to float) values; return HONE_OK, or
 * any other status to abort (the weights are then left partially processed). */
typedef hone_status (*hone_column_quantizer_fn)(void* user_data, int64_t column, float* values,
                                                int64_t count);

typedef struct hone_sparsegpt_params {
    size_t struct_size;                /* sizeof(hone_sparsegpt_params) */
    double sparsity;                   /* unstructured target; default 0.5 */
    int n, m;                          /* N:M instead when n > 0; default 0, 0 */
    int64_t block_size;                /* columns per block; default 128 */
    double damp_fraction;              /* dampening, fraction of mean(diag H); default 0.01 */
    int quant_bits;                    /* 2…8: RTN to a symmetric per-row grid; 0 = off */
    hone_column_quantizer_fn quantize; /* or a caller's quantizer; NULL = none */
    void* user_data;                   /* passed to quantize */
} hone_sparsegpt_params;

HONE_API hone_status hone_sparsegpt_params_init(hone_sparsegpt_params* params);

/* SparseGPT (Frantar & Alistarh 2023): prunes weights [rows, K] with OBS updates of the
 * remaining weights, blocked, the mask chosen adaptively per block (exact total count) or per
 * N:M group; hessian = sum X^T·X, F32 [K, K]. row_scales: NULL, or `rows` floats receiving the
 * RTN grid steps when quant_bits > 0. */
HONE_API hone_status hone_prune_sparsegpt(const hone_sparsegpt_params* params, hone_tensor* weights,
                                          const hone_tensor* hessian, hone_tensor* mask,
                                          hone_prune_result* result, float* row_scales);

typedef enum hone_schedule_kind {
    HONE_SCHEDULE_CONSTANT = 0,  /* s(t) = final_sparsity */
    HONE_SCHEDULE_POLYNOMIAL = 1 /* s = final + (initial - final)·(1 - p)^power, p clamped to
                                    [0, 1] = (t - begin) / (end - begin) (Zhu & Gupta 2017) */
} hone_schedule_kind;

typedef struct hone_sparsity_schedule {
    size_t struct_size;      /* sizeof(hone_sparsity_schedule) */
    hone_schedule_kind kind; /* default HONE_SCHEDULE_POLYNOMIAL */
    double initial_sparsity; /* default 0 */
    double final_sparsity;   /* default 0.5 */
    int64_t begin_step;      /* default 0 */
    int64_t end_step;        /* default -1 (no end; polynomial needs end > begin) */
    int64_t frequency;       /* prune every `frequency` steps from begin; default 100 */
    double power;            /* default 3 */
} hone_sparsity_schedule;

HONE_API hone_status hone_sparsity_schedule_init(hone_sparsity_schedule* schedule);

/* The target sparsity at `step`, and whether to recompute the mask then (begin <= step, step <=
 * end unless end = -1, (step - begin) % frequency == 0). Either out-pointer may be NULL. */
HONE_API hone_status hone_sparsity_schedule_at(const hone_sparsity_schedule* schedule, int64_t step,
                                               double* sparsity, int* prune_now);

/* Mask for fine-tuning: mask = (weights != 0) (U8/BOOL, weights' shape). Apply a mask to a
 * tensor or gradient with hone_apply_mask (dst may be src). */
HONE_API hone_status hone_mask_of(const hone_tensor* weights, hone_tensor* mask);

/* weights -= learning_rate·gradient where mask = 1; pruned weights stay +0. */
HONE_API hone_status hone_masked_sgd_step(hone_tensor* weights, const hone_tensor* gradient,
                                          const hone_tensor* mask, float learning_rate);

/* Fraction of exact zeros (+0 or -0) in an F32 tensor. */
HONE_API hone_status hone_sparsity_of(const hone_tensor* weights, double* out);

/* Sparse storage of an F32 tensor (docs/pruner.md, "Sparse storage"). */
typedef enum hone_sparse_format {
    HONE_SPARSE_BITMASK = 0, /* 1 bit per element (LSB-first) + the non-zero values */
    HONE_SPARSE_N_M = 1,     /* N values per M-group + ceil(log2 M)-bit positions per value */
    HONE_SPARSE_CSR = 2      /* row_ptr (rows+1 × I32), column indices (I32), values */
} hone_sparse_format;

typedef enum hone_sparse_buffer {
    HONE_SPARSE_VALUES = 0,     /* F32 */
    HONE_SPARSE_INDEX = 1,      /* bitmask: the bits; N:M: the packed positions; CSR: empty */
    HONE_SPARSE_ROW_PTR = 2,    /* CSR: I32 */
    HONE_SPARSE_COL_INDICES = 3 /* CSR: I32 */
} hone_sparse_buffer;

typedef struct hone_sparse hone_sparse;

/* Encodes dense (exact zeros are not stored). HONE_SPARSE_N_M needs at most n non-zeros in every
 * group of m (else HONE_ERROR_INVALID_ARGUMENT naming row and group); n, m ignored otherwise. */
HONE_API hone_status hone_sparse_encode(const hone_tensor* dense, hone_sparse_format format, int n,
                                        int m, hone_sparse** out);
HONE_API void hone_sparse_destroy(hone_sparse* sparse);
/* The bytes actually stored (values + indices), and the dense size. */
HONE_API hone_status hone_sparse_bytes(const hone_sparse* sparse, size_t* stored, size_t* dense);
/* Writes the dense tensor into dst (F32, the source's shape). */
HONE_API hone_status hone_sparse_to_dense(const hone_sparse* sparse, hone_tensor* dst);
/* A stored buffer (owned by the handle, valid until it is destroyed) and its size in bytes. */
HONE_API hone_status hone_sparse_get_buffer(const hone_sparse* sparse, hone_sparse_buffer which,
                                            const void** data, size_t* bytes);

/* ---- clustering (include/hone/cluster/) ------------------------------------------------------ */

/* Weight clustering (k-means palettization): every weight becomes one of k shared values, per
 * tensor, per channel or per group of channels. C++: hone/cluster/kmeans1d.hpp and
 * clusterer.hpp; guide: docs/clusterer.md. The optimal method is the global optimum of the 1-D
 * weighted k-means objective sum(importance * (w - c)^2) (dynamic programming over the sorted
 * values); Lloyd starts from TFMOT's initialisations. Same inputs and seed give identical bytes
 * for any thread count. */

typedef enum hone_kmeans_method {
    HONE_KMEANS_AUTO = 0,    /* optimal when clusters * values <= auto_max_cells, else Lloyd */
    HONE_KMEANS_OPTIMAL = 1, /* global optimum: O(n log n) sort + O(k n log n) time, 4 k n bytes */
    HONE_KMEANS_LLOYD = 2    /* Lloyd iterations from `init` */
} hone_kmeans_method;

typedef enum hone_kmeans_init {
    HONE_KMEANS_INIT_KMEANS_PLUS_PLUS = 0, /* D^2 sampling, seeded */
    HONE_KMEANS_INIT_LINEAR = 1,           /* evenly spaced from min to max */
    HONE_KMEANS_INIT_DENSITY = 2,          /* weighted quantiles i/(k-1) (evenly spaced in CDF) */
    HONE_KMEANS_INIT_RANDOM = 3            /* uniform in [min, max], seeded */
} hone_kmeans_init;

typedef enum hone_cluster_granularity {
    HONE_CLUSTER_PER_TENSOR = 0,  /* one codebook */
    HONE_CLUSTER_PER_CHANNEL = 1, /* one codebook per index along `axis` */
    HONE_CLUSTER_PER_GROUP = 2    /* one per `group_size` consecutive channels along `axis` */
} hone_cluster_granularity;

typedef struct hone_cluster_params {
    size_t struct_size;        /* sizeof(hone_cluster_params) */
    int clusters;              /* k, 2…256; default 16. Indices take ceil(log2 k) bits */
    hone_kmeans_method method; /* default HONE_KMEANS_AUTO */
    hone_cluster_granularity granularity; /* default HONE_CLUSTER_PER_TENSOR */
    int axis;                             /* channel axis, may be negative; default 0 */
    int64_t group_size;                   /* channels per codebook (PER_GROUP), >= 1; default 1 */
    int preserve_sparsity;                /* 1: zeros keep an exact +0 centroid of their own, the
                                             other weights share k-1; default 0 */
    hone_dtype codebook_dtype;            /* HONE_DTYPE_F32 (default) or HONE_DTYPE_F16 */
    hone_kmeans_init init;                /* Lloyd; default HONE_KMEANS_INIT_KMEANS_PLUS_PLUS */
    int max_iterations;                   /* Lloyd, >= 1; default 300 */
    double tolerance;                     /* Lloyd: stop when the SSE improves by <= tolerance *
                                             SSE (>= 0); default 1e-7 */
    uint64_t seed;                        /* Lloyd k-means++ / random; default 0 */
    int64_t auto_max_cells;               /* AUTO budget; default 2^26 (67108864) */
} hone_cluster_params;

HONE_API hone_status hone_cluster_params_init(hone_cluster_params* params);

/* 1-D k-means of `values` (F32, contiguous, any shape, finite, not empty) weighted by
 * `importance` (NULL, or F32 contiguous of the same shape, finite, >= 0, not all 0). Uses
 * params->clusters, method, init, max_iterations, tolerance, seed, auto_max_cells.
 * `centroids` (F32, rank 1, at least `clusters` entries) receives the centroids ascending in its
 * first *used entries; fewer distinct values than k is not an error: each distinct value is
 * then a centroid and *used < k. *sse (may be NULL) = sum importance * min_j (x - c_j)^2.
 * Errors: k outside 2…256, empty, NaN/inf (HONE_ERROR_INVALID_ARGUMENT naming the index). */
HONE_API hone_status hone_kmeans1d(const hone_cluster_params* params, const hone_tensor* values,
                                   const hone_tensor* importance, hone_tensor* centroids, int* used,
                                   double* sse);

/* A clustered (palettized) tensor: packed indices + codebooks, owned by the handle. The
 * tensor is seen as [rows, cols]: per channel/group rows = dims[axis] with each row holding one
 * channel (remaining axes in row-major order), per tensor rows = dims[0] (1 for rank <= 1).
 * With axis 0 the export is exactly what hone_palettized_matmul takes (bits, cols and
 * rows_per_group from hone_clustered_get_info). */
typedef struct hone_clustered hone_clustered;

/* Clusters F32 `weights` (any shape and strides, not empty, finite) with optional `importance`
 * (NULL or F32 of the same shape). Errors name the failing field or element. */
HONE_API hone_status hone_cluster(const hone_cluster_params* params, const hone_tensor* weights,
                                  const hone_tensor* importance, hone_clustered** out);
HONE_API void hone_clustered_destroy(hone_clustered* clustered);

typedef struct hone_clustered_info {
    size_t struct_size;        /* set by the caller: sizeof(hone_clustered_info) */
    int bits;                  /* index bits, 1…8 */
    int axis;                  /* channel axis of the layout (0 for per tensor) */
    int64_t rows, cols;        /* the [rows, cols] layout */
    int64_t rows_per_group;    /* rows sharing a codebook */
    int64_t groups;            /* codebooks */
    int64_t entries;           /* entries per codebook, 2^bits (unused ones are 0) */
    hone_dtype codebook_dtype; /* F32 or F16 */
    size_t bytes;              /* stored size: packed indices + codebooks */
    double sse;                /* sum importance * (w - w_clustered)^2 when made / reassigned */
    int preserve_sparsity;
} hone_clustered_info;

HONE_API hone_status hone_clustered_get_info(const hone_clustered* clustered,
                                             hone_clustered_info* info);
/* used[g] = real centroids of codebook g, for g < groups (capacity >= groups). */
HONE_API hone_status hone_clustered_clusters_used(const hone_clustered* clustered, int32_t* used,
                                                  size_t capacity);
/* Copies packed indices (U8 [rows, ceil(cols*bits/8)]) and codebooks (F32/F16 [groups,
 * entries]) into contiguous caller tensors of exactly those dtypes and shapes; either may be
 * NULL. */
HONE_API hone_status hone_clustered_export(const hone_clustered* clustered, hone_tensor* packed,
                                           hone_tensor* codebooks);
/* One index per weight: U8 [rows, cols], contiguous. */
HONE_API hone_status hone_clustered_indices(const hone_clustered* clustered, hone_tensor* indices);
/* dst (F32, the weights' shape, any strides) = the clustered weights. */
HONE_API hone_status hone_clustered_dequantize(const hone_clustered* clustered, hone_tensor* dst);

/* Fine-tuning hook (Deep Compression): adds dL/dW (F32, the weights' shape, finite) to each
 * weight's centroid's gradient sum. */
HONE_API hone_status hone_clustered_accumulate_gradient(hone_clustered* clustered,
                                                        const hone_tensor* gradient);
/* sums[s], counts[s] for s < groups * entries (codebook-major); either may be NULL. */
HONE_API hone_status hone_clustered_gradient_sums(const hone_clustered* clustered, double* sums,
                                                  int64_t* counts, size_t capacity);
/* c -= learning_rate * (sum, or sum / count when average != 0), rounded to the codebook dtype;
 * the zero centroid of sparsity-preserving codebooks never moves; clears the sums. */
HONE_API hone_status hone_clustered_apply_gradient(hone_clustered* clustered, float learning_rate,
                                                   int average);
/* Re-sorts each codebook and maps `weights` (F32, the original shape, finite) to their nearest
 * centroids (zeros to the zero centroid when preserving sparsity); updates the SSE, clears the
 * gradient sums. */
HONE_API hone_status hone_clustered_reassign(hone_clustered* clustered, const hone_tensor* weights);

/* ---- models (include/hone/model/, io/onnx.hpp) ----------------------------------------------- */

/* A model: graph + named weights (include/hone/model/model.hpp). ONNX opsets 9 to 21 are read
 * with every size, offset and name checked (docs/models.md), INT4 / UINT4 tensors included;
 * attributes that moved to inputs before opset 13 are normalized. Saved files pass
 * onnx::checker (opsets <= 17; newer ones, e.g. int4 QDQ at opset 21, are beyond the linked
 * libonnx 1.12 and are checked by reading the written bytes back) and are written atomically. */
typedef struct hone_model hone_model;

/* Loads an ONNX file; external data is looked up in the file's folder and never outside it. */
HONE_API hone_status hone_model_load_onnx(const char* path, hone_model** out);
/* Saves as ONNX; weights of at least `external_threshold` bytes go to "<path>.data" beside it
 * (0: all inline). */
HONE_API hone_status hone_model_save_onnx(const hone_model* model, const char* path,
                                          uint64_t external_threshold);
HONE_API void hone_model_destroy(hone_model* model);

typedef struct hone_model_info {
    size_t struct_size; /* set by the caller: sizeof(hone_model_info) */
    size_t node_count;
    size_t input_count, output_count, weight_count;
    uint64_t weight_bytes;
    int64_t opset;        /* default-domain opset the nodes follow (≥ 13 after normalization) */
    int64_t source_opset; /* the file's */
    const char* producer_name; /* valid while the model lives */
    const char* producer_version;
} hone_model_info;
HONE_API hone_status hone_model_get_info(const hone_model* model, hone_model_info* out);

typedef enum hone_value_kind {
    HONE_VALUE_INPUT = 0,
    HONE_VALUE_OUTPUT = 1,
    HONE_VALUE_WEIGHT = 2 /* in ascending name order */
} hone_value_kind;

/* Element type and shape of input/output/weight `index` (weights in ascending name order,
 * which hone_model_set_weight of a new name changes). `*dtype` may be NULL. dims receives up to
 * `capacity` dimensions (may be NULL with capacity 0); a dynamic dimension is -1; `*rank` (may be
 * NULL) is set to the rank, or to (size_t)-1 when the file gives no shape. Out of range:
 * HONE_ERROR_OUT_OF_RANGE. */
HONE_API hone_status hone_model_value(const hone_model* model, hone_value_kind kind, size_t index,
                                      hone_dtype* dtype, size_t* rank, int64_t* dims,
                                      size_t capacity);
/* The name of input/output/weight `index` (as hone_model_value), copied into `buffer` (see
 * Strings at the top). An index out of range is HONE_ERROR_OUT_OF_RANGE too; the message says
 * which. */
HONE_API hone_status hone_model_value_name(const hone_model* model, hone_value_kind kind,
                                           size_t index, char* buffer, size_t capacity,
                                           size_t* needed);
/* A copy of the weight `name` (HONE_ERROR_NOT_FOUND when there is none); destroy it. */
HONE_API hone_status hone_model_get_weight(const hone_model* model, const char* name,
                                           hone_tensor** out);
/* Replaces (or adds) the weight `name` with a copy of `value`. */
HONE_API hone_status hone_model_set_weight(hone_model* model, const char* name,
                                           const hone_tensor* value);

/* ---- graph executor (include/hone/graph/) ---------------------------------------------------- */

/* The graph executor (include/hone/graph/executor.hpp): planned once at creation (an operator
 * it cannot run is an error here, naming the node), run many times, concurrently if wished. */
typedef struct hone_executor hone_executor;

typedef enum hone_precision {
    HONE_PRECISION_F32 = 0,
    HONE_PRECISION_INT8_DYNAMIC = 1, /* int8 Gemm/MatMul, activation scales per call */
    HONE_PRECISION_INT8_STATIC = 2   /* int8 Gemm/MatMul/Conv with the ranges given below */
} hone_precision;

typedef struct hone_executor_params {
    size_t struct_size;
    hone_precision precision; /* default F32 */
    int fold_constants;       /* default 1 */
    int fold_batch_norm;      /* default 1 */
    int fuse_relu;            /* default 1 */
    int reduce_range;         /* 7-bit int8 activations: -1 auto (default), 0, 1 */
    /* values that must stay observable (never fused away) */
    const char* const* keep;
    size_t keep_count;
    /* INT8_STATIC: calibrated ranges [lo, hi] of layer inputs, by value name */
    const char* const* range_names;
    const float* range_lo;
    const float* range_hi;
    size_t range_count;
    /* Packed weights, by the model's weight name (input B of a Gemm, or the constant [K, N] B of
     * a MatMul): that layer runs weight-only on them, activations f32, whatever the precision
     * (executor.hpp, executor_options::int4_weights / palettized_weights). Both kinds are laid
     * out [N, K] (output channels first). int4: 4-bit per group along K, signed symmetric or
     * unsigned (copied at creation). Palettized: clustered along axis 0; NOT copied: each
     * hone_clustered must outlive the executor. Errors at creation name the weight: not such a
     * layer's weight (INVALID_ARGUMENT), other dims (SHAPE_MISMATCH), a form the kernels cannot
     * take (UNSUPPORTED). */
    const char* const* int4_names;
    const hone_quantized_tensor* const* int4_weights;
    size_t int4_count;
    const char* const* palettized_names;
    const hone_clustered* const* palettized_weights;
    size_t palettized_count;
    /* 1 (default): a DequantizeLinear of INT4/UINT4 weights blocked along K (opset-21 QDQ)
     * feeding Gemm/MatMul runs those layers on the int4 weight-only kernel; 0: folded to f32. */
    int qdq_int4_kernel;
} hone_executor_params;

HONE_API hone_status hone_executor_params_init(hone_executor_params* params);
/* `params` may be NULL (defaults). The executor does not keep a reference to `model`. */
HONE_API hone_status hone_executor_create(const hone_model* model,
                                          const hone_executor_params* params, hone_executor** out);
HONE_API void hone_executor_destroy(hone_executor* executor);

/* Called with every value a run produces (by name, in execution order); the tensor is valid
 * during the call only. A status other than HONE_OK stops the run with that status. */
typedef hone_status (*hone_observe_fn)(void* user, const char* name, const hone_tensor* value);

/* Runs the graph: `inputs` one per graph input, in order; `outputs` receives `output_count`
 * (= the model's output count) new tensors the caller destroys. `observe` may be NULL. */
HONE_API hone_status hone_executor_run(const hone_executor* executor,
                                       const hone_tensor* const* inputs, size_t input_count,
                                       hone_tensor** outputs, size_t output_count,
                                       hone_observe_fn observe, void* user);
/* Per model node `index` (0 ≤ index < `*count` of hone_executor_node_count, in model order):
 * its name, its operator, and the path it took ("f32 linear (oneDNN)", "int8 dynamic linear
 * ...", "folded into Conv 'c1'", ...), each copied into `buffer` (see Strings at the top). An
 * index out of range is HONE_ERROR_OUT_OF_RANGE too; the message says which. */
HONE_API hone_status hone_executor_node_count(const hone_executor* executor, size_t* count);
HONE_API hone_status hone_executor_node_name(const hone_executor* executor, size_t index,
                                             char* buffer, size_t capacity, size_t* needed);
HONE_API hone_status hone_executor_node_op_type(const hone_executor* executor, size_t index,
                                                char* buffer, size_t capacity, size_t* needed);
HONE_API hone_status hone_executor_node_path(const hone_executor* executor, size_t index,
                                             char* buffer, size_t capacity, size_t* needed);

/* ---- runner: an engine's executor as hone's validator runs it -------------------------------- */

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

/* Fills `params` (after hone_runner_params_init) so that hone_runner_create gives a validation
 * runner over this executor (one input, one output; [N, features] inputs are reshaped to the
 * model's input shape). The executor must outlive the runner. */
HONE_API hone_status hone_executor_runner_params(hone_executor* executor,
                                                 hone_runner_params* params);

/* ---- QDQ export (include/hone/io/qdq.hpp, docs/formats.md "QDQ layout") --------------------
 * A new model in ONNX's QDQ form: the weights of Gemm/MatMul/Conv layers become integer
 * initializers + DequantizeLinear (8-bit per tensor / per channel; 3..8-bit per group as
 * blocked DequantizeLinear, 3..4-bit as INT4/UINT4 - those raise the model to opset 21), and
 * the layer inputs given a grid go through QuantizeLinear -> DequantizeLinear. Save it with
 * hone_model_save_onnx. */
/* The deployable ONNX form hone_model_to_qdq writes (docs/formats.md). */
typedef enum hone_onnx_form {
    HONE_ONNX_QDQ = 0,          /* QuantizeLinear / DequantizeLinear (static int8, weight-only) */
    HONE_ONNX_DYNAMIC_INT8 = 1, /* DynamicQuantizeLinear + MatMulInteger / ConvInteger
                                   (include/hone/io/onnx_integer.hpp); activation grids unused */
    HONE_ONNX_MATMUL_NBITS = 2  /* QDQ, then 4-bit blocked MatMul/Gemm weights as
                                   com.microsoft.MatMulNBits */
} hone_onnx_form;

typedef struct hone_qdq_params {
    size_t struct_size;          /* sizeof(hone_qdq_params), set by _init */
    int quantize_weights;        /* default 1: quantize weights not listed below (RTN) */
    hone_quant_spec weight_spec; /* for those: default signed symmetric int8 per channel; the
                                    channel / group axes are set per layer */
    /* already quantized weights (GPTQ, AWQ, int4 per group...), by model weight name; the
       tensors are copied */
    const char* const* weight_names;
    const hone_quantized_tensor* const* weights;
    size_t weight_count;
    /* activation grids: q = saturate(round(x / scale) + zero_point), by layer input name */
    const char* const* activation_names;
    const float* activation_scales;
    const int32_t* activation_zero_points;
    const hone_dtype* activation_types; /* HONE_DTYPE_U8 / _I8 each; NULL: all U8 */
    size_t activation_count;
    /* layers (node names) left untouched */
    const char* const* f32_nodes;
    size_t f32_node_count;
    /* -- appended in 0.2 (struct_size tells the library whether they are there) -- */
    /* default 1: a grid on the input of MaxPool / Reshape / Flatten / Transpose / Squeeze /
       Unsqueeze / Identity holds for its output too */
    int propagate_grids;
    /* default 1: Conv / ConvTranspose / Gemm biases of layers whose input has a grid become INT32
       round(b / (x_scale * w_scale)) through DequantizeLinear (ONNX Runtime's integer kernels) */
    int quantize_bias;
    /* default 1: BatchNormalization after a Conv folded into it first */
    int fold_batch_norm;
    hone_onnx_form form; /* default HONE_ONNX_QDQ */
} hone_qdq_params;

HONE_API hone_status hone_qdq_params_init(hone_qdq_params* params);
/* The u8 grid the executor uses for a calibrated range [lo, hi] (127 levels when seven_bit). */
HONE_API hone_status hone_qdq_activation_from_range(float lo, float hi, int seven_bit, float* scale,
                                                    int32_t* zero_point);
/* `params` may be NULL (defaults). `out` gets a new model; `model` is unchanged. Activation
 * names are tensors (graph inputs or node outputs): each goes through QuantizeLinear ->
 * DequantizeLinear once and every consumer reads the dequantized value. Errors name the layer,
 * weight or tensor: a spec ONNX cannot hold (UNSUPPORTED, e.g. 2-bit), a given weight of other
 * dims (SHAPE_MISMATCH), a grid out of range or a name no tensor has (INVALID_ARGUMENT). */
HONE_API hone_status hone_model_to_qdq(const hone_model* model, const hone_qdq_params* params,
                                       hone_model** out);
/* The tensors whose grids make the QDQ form the one ONNX Runtime fuses into its integer kernels
 * (include/hone/io/qdq.hpp, qdq_activation_tensors): each quantized layer's input unless carried
 * from a listed tensor, and its output (after a Relu consumer). Calibrate them on `model` and
 * pass the grids to hone_model_to_qdq. The names (never empty) are copied into `buffer` one after
 * another, each with its NUL, and one more NUL ends the list ("a\0b\0\0"; none: "\0"), as
 * Strings at the top says for one text (`*needed` counts every NUL); `*count` (may be NULL)
 * receives the number of names once the list is computed, so also with a too small buffer.
 * `params` may be NULL. */
HONE_API hone_status hone_model_qdq_activation_tensors(const hone_model* model,
                                                       const hone_qdq_params* params, char* buffer,
                                                       size_t capacity, size_t* needed,
                                                       size_t* count);

/* ---- safetensors files (include/hone/io/safetensors.hpp, docs/formats.md) ------------------
 * Reading validates every header field, size and offset against the file before any tensor is
 * exposed (header size bound, dtypes, shape × element size = byte count in checked 64-bit
 * arithmetic, offsets inside the buffer, contiguous and non-overlapping, no duplicate names,
 * string metadata); a malformed file fails with HONE_ERROR_FORMAT (or HONE_ERROR_UNSUPPORTED
 * for a valid dtype hone has no type for) and a message naming the file, tensor and field.
 * Writing is atomic; tensors are ordered and aligned as the reference implementation does. */

typedef struct hone_safetensors hone_safetensors;

/* Maps and validates the file at `path` (UTF-8). */
HONE_API hone_status hone_safetensors_open(const char* path, hone_safetensors** out);
/* Validates a copy of `size` bytes at `data` (NULL allowed when size is 0). */
HONE_API hone_status hone_safetensors_open_memory(const void* data, size_t size,
                                                  hone_safetensors** out);
HONE_API void hone_safetensors_destroy(hone_safetensors* file);

/* Number of tensors; the name of tensor `index` (0 ≤ index < count, in file order) copied into
 * `buffer` (see Strings at the top; an index out of range is HONE_ERROR_OUT_OF_RANGE too, the
 * message says which). */
HONE_API hone_status hone_safetensors_count(const hone_safetensors* file, size_t* out);
HONE_API hone_status hone_safetensors_name(const hone_safetensors* file, size_t index, char* buffer,
                                           size_t capacity, size_t* needed);
/* A new owning tensor holding a copy of the named tensor (HONE_ERROR_NOT_FOUND if absent).
 * Free it with hone_tensor_destroy. */
HONE_API hone_status hone_safetensors_get(const hone_safetensors* file, const char* name,
                                          hone_tensor** out);

/* The "__metadata__" string map: count, key `index` (sorted), value of `key`
 * (HONE_ERROR_NOT_FOUND if absent); keys and values are copied into `buffer` (see Strings at
 * the top). */
HONE_API hone_status hone_safetensors_metadata_count(const hone_safetensors* file, size_t* out);
HONE_API hone_status hone_safetensors_metadata_key(const hone_safetensors* file, size_t index,
                                                   char* buffer, size_t capacity, size_t* needed);
HONE_API hone_status hone_safetensors_metadata_get(const hone_safetensors* file, const char* key,
                                                   char* buffer, size_t capacity, size_t* needed);

/* Writes `count` tensors named `names[i]` (distinct, non-empty, not "__metadata__"; dtypes F32,
 * F16, BF16, I8, U8, I32, I64, BOOL) and `metadata_count` string pairs to `path`, atomically. */
HONE_API hone_status hone_safetensors_save(const char* path, size_t count, const char* const* names,
                                           const hone_tensor* const* tensors, size_t metadata_count,
                                           const char* const* metadata_keys,
                                           const char* const* metadata_values);

/* ---- data sources ---------------------------------------------------------------------------- */

/* Streams samples to hone: writes up to `capacity` samples, starting at sample `first`, into
 * `inputs` (f32, capacity × the product of sample_shape values) and, when the source has labels,
 * their classes into `labels` (NULL otherwise); sets `*count` to the samples written (0 = no
 * more). Return HONE_OK or an error status (hone stops and reports it). hone reads the whole set
 * once, in order, before it uses it. */
typedef hone_status (*hone_sample_fn)(void* user, int64_t first, int64_t capacity, float* inputs,
                                      int64_t* labels, int64_t* count);

/* One data set: a data spec (docs/cli.md "Data": fashion-mnist:test:1000, X.npy,Y.npy, IDX
 * files, TOKENS.npy of int64 token ids for a language model), or samples streamed by `read`
 * (f32 samples only). */
typedef struct hone_data_source {
    const char* spec;            /* a data spec, or NULL to use `read` */
    hone_sample_fn read;         /* with spec NULL: required */
    void* user;                  /* passed to read */
    const int64_t* sample_shape; /* read: shape of one sample (e.g. {1, 28, 28}) */
    size_t sample_rank;          /* read: its rank, 1..8 */
    int has_labels;              /* read: 1 when read fills labels */
} hone_data_source;

/* ---- fine-tuning (include/hone/retrain/; after the models: it trains a hone_model) ----------- */

/* Fine-tuning (and training from scratch) of an ONNX model with hone's own backward passes
 * (docs/retraining.md): start a run on labelled data, step it one mini-batch at a time (a
 * progress callback sees every step and may stop the run), evaluate, and finish by writing the
 * trained model as ONNX (atomically). Optimization-aware options apply to every trainable weight
 * of rank ≥ 2 (the Gemm/MatMul/Conv weights): magnitude pruning with masks kept applied, k-means
 * clustering with weights tied to centroids, int-N per-channel fake quantization (QAT, STE;
 * optionally with learned scales, LSQ).
 * Errors: an op without a backward pass (HONE_ERROR_UNSUPPORTED naming the node), labels
 * missing for a labelled loss, a non-finite loss (HONE_ERROR_INVALID_ARGUMENT naming the step):
 * nothing is written. */

typedef enum hone_optimizer { HONE_OPTIMIZER_SGD = 0, HONE_OPTIMIZER_ADAMW = 1 } hone_optimizer;
typedef enum hone_lr_schedule {
    HONE_LR_CONSTANT = 0,
    HONE_LR_COSINE = 1,
    HONE_LR_STEP = 2
} hone_lr_schedule;
typedef enum hone_train_loss {
    HONE_LOSS_CROSS_ENTROPY = 0, /* labels required */
    HONE_LOSS_DISTILLATION = 1,  /* teacher (or the model itself); labels when distill_alpha < 1;
                                    logits of any rank (a language model's [B, T, V]) */
    HONE_LOSS_NEXT_TOKEN = 2     /* a language model's next-token cross-entropy on its own input
                                    rows: inputs are int64 token ids [N, T], no labels */
} hone_train_loss;

typedef struct hone_train_progress {
    size_t struct_size;  /* sizeof(hone_train_progress), set by hone */
    int epoch;           /* 0-based */
    int64_t step;        /* global steps done */
    int64_t total_steps; /* planned */
    double loss;         /* this step's loss */
    float learning_rate; /* used by this step */
} hone_train_progress;

/* Called after every step; return 0 to stop the run (further steps report done). */
typedef int (*hone_train_progress_fn)(void* user, const hone_train_progress* progress);

typedef struct hone_finetune_params {
    size_t struct_size;        /* sizeof(hone_finetune_params), set by _init */
    const char* model_path;    /* ONNX model to train (or `model` below) */
    const char* teacher_path;  /* ONNX teacher for distillation (NULL: the model as loaded) */
    int epochs;                /* 1 */
    int64_t batch_size;        /* 64 */
    uint64_t seed;             /* 0: data order */
    hone_optimizer optimizer;  /* SGD */
    float learning_rate;       /* 0.01 */
    float momentum;            /* 0.9 (SGD) */
    float weight_decay;        /* 0 */
    hone_lr_schedule schedule; /* constant */
    int64_t step_size;         /* 1000 (step schedule) */
    float gamma;               /* 0.1 (step schedule) */
    float min_learning_rate;   /* 0 (cosine floor) */
    hone_train_loss loss;      /* cross-entropy */
    float temperature;         /* 4 */
    float distill_alpha;       /* 1: pure distillation */
    double prune_sparsity;     /* 0: off; else magnitude masks of this sparsity, kept applied */
    int cluster_count;         /* 0: off; else 2…256 clusters per weight, centroids train */
    int weight_bits;           /* 0: off; else 2…8-bit per-channel symmetric fake quant */
    int activation_bits;       /* 0: off; else 2…8-bit activation fake quant */
    hone_train_progress_fn progress; /* NULL: none */
    void* user;                      /* passed to progress */
    /* Appended (struct_size tells whether a caller has it; older callers get 0): */
    int learned_scales; /* 0: RTN fake quant; 1: LSQ, the weight_bits scales train (needs
                           weight_bits) */
    /* The model to train as a handle (hone_model_load_onnx, or one the caller changed with
     * hone_model_set_weight), copied at start: give this or model_path, not both. */
    const hone_model* model;
    const hone_model* teacher; /* the teacher as a handle (instead of teacher_path) */
    /* Layer-wise distillation (appended): names of intermediate values the student and the
     * teacher both compute; each adds distill_values_weight * MSE(student, teacher) to the loss
     * (NULL / 0: none). The teacher is teacher / teacher_path, else the model as loaded. */
    const char* const* distill_values;
    size_t distill_value_count;
    float distill_values_weight; /* 1 */
} hone_finetune_params;

typedef struct hone_finetune hone_finetune;

HONE_API hone_status hone_finetune_params_init(hone_finetune_params* params);
/* Loads the model (and teacher), applies the optimization-aware options, and copies the
 * training data: `inputs` f32 [N, ...] (each sample reshaped to the model input by its
 * element count), or int64 token ids [N, T] for a language model; `labels` N int64 (NULL with
 * label_count 0 for pure distillation and the next-token loss). */
HONE_API hone_status hone_finetune_start(const hone_finetune_params* params,
                                         const hone_tensor* inputs, const int64_t* labels,
                                         size_t label_count, hone_finetune** out);
/* Runs one mini-batch; *done = 1 (and no step) when every epoch ran or the callback stopped. */
HONE_API hone_status hone_finetune_step(hone_finetune* run, int* done);
/* Top-1 accuracy of the current (masked / clustered / fake-quantized) weights. */
HONE_API hone_status hone_finetune_evaluate(hone_finetune* run, const hone_tensor* inputs,
                                            const int64_t* labels, size_t label_count,
                                            double* accuracy);
/* Writes the trained model to `output_path` as ONNX (atomic). The run stays usable. */
HONE_API hone_status hone_finetune_finish(hone_finetune* run, const char* output_path);
HONE_API void hone_finetune_destroy(hone_finetune* run);

/* ---- validation ------------------------------------------------------------------------------ */

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
    int repeats; /* default 30 (paired runs; the latency gate judges their median ratio) */
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
    size_t struct_size; /* set by the caller: sizeof(hone_validation_summary) */
    uint64_t samples;
    double baseline_accuracy, candidate_accuracy;
    double delta_low, delta_high; /* interval of candidate − baseline accuracy */
    double mcnemar_p;
    double agreement;
    uint64_t regressions, improvements; /* paired disagreements */
} hone_validation_summary;

HONE_API hone_status hone_validation_summary_get(const hone_validation* validation,
                                                 hone_validation_summary* out);
/* The whole report as JSON, copied into `buffer` (see Strings at the top). */
HONE_API hone_status hone_validation_json(const hone_validation* validation, char* buffer,
                                          size_t capacity, size_t* needed);
HONE_API void hone_validation_destroy(hone_validation* validation);

/* ---- policy ---------------------------------------------------------------------------------- */

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

typedef enum hone_verdict {
    HONE_VERDICT_APPROVED = 0,
    HONE_VERDICT_NEEDS_SIGNOFF = 1,
    HONE_VERDICT_REJECTED = 2
} hone_verdict;

/* Applies a policy: `*verdict` gets the verdict, `*approvals_missing` (may be NULL) the
 * approvals still needed. The decision with its reasons as JSON — the text a ledger optimize
 * record stores — is copied into `decision_json` as Strings at the top says, except that
 * decision_json NULL with capacity 0 means "not wanted": the call then succeeds and `*needed`
 * (may be NULL) still receives the text's size, so that call is also the size query. A too small
 * buffer fails with HONE_ERROR_OUT_OF_RANGE, `*verdict` and `*approvals_missing` untouched. */
HONE_API hone_status hone_validation_decide(const hone_validation* validation,
                                            const hone_policy* policy, hone_verdict* verdict,
                                            uint32_t* approvals_missing, char* decision_json,
                                            size_t capacity, size_t* needed);

/* ---- metrics: classification figures and per-layer error, fed batch by batch ---------------- */

typedef struct hone_metric_collector hone_metric_collector;

typedef struct hone_metric_collector_params {
    size_t struct_size;
    int top_k; /* default 5 */
} hone_metric_collector_params;

HONE_API hone_status hone_metric_collector_params_init(hone_metric_collector_params* params);
/* `params` may be NULL (defaults). */
HONE_API hone_status hone_metric_collector_create(const hone_metric_collector_params* params,
                                                  hone_metric_collector** out);
HONE_API void hone_metric_collector_destroy(hone_metric_collector* collector);

/* One batch: outputs f32 [batch, classes]; labels (batch values) may be NULL with count 0;
 * reference (the baseline's outputs, same shape) may be NULL. */
HONE_API hone_status hone_metric_collector_add(hone_metric_collector* collector,
                                               const hone_tensor* outputs, const int64_t* labels,
                                               size_t label_count, const hone_tensor* reference);

typedef struct hone_classification_summary {
    size_t struct_size; /* set by the caller: sizeof(hone_classification_summary) */
    uint64_t samples;
    int has_labels;
    double accuracy;       /* top-1 */
    double top_k_accuracy; /* top-k of the params */
    int has_reference;
    double agreement;   /* same top-1 as the reference */
    double mean_kl;     /* mean KL(reference || outputs) of the softmaxed logits, nats */
    double mean_cosine; /* mean cosine similarity to the reference */
} hone_classification_summary;

/* Figures over all samples added (samples NULL, count 0) or over the given sample indices. */
HONE_API hone_status hone_metric_collector_summary(const hone_metric_collector* collector,
                                                   const uint32_t* samples, size_t sample_count,
                                                   hone_classification_summary* out);

typedef struct hone_layer_errors hone_layer_errors; /* per-layer SQNR of a candidate */

HONE_API hone_status hone_layer_errors_create(hone_layer_errors** out);
HONE_API void hone_layer_errors_destroy(hone_layer_errors* errors);
/* One batch of the activations at tensor `name` (f32, same shape in both models). */
HONE_API hone_status hone_layer_errors_add(hone_layer_errors* errors, const char* name,
                                           const hone_tensor* baseline,
                                           const hone_tensor* candidate);

typedef struct hone_layer_error_info {
    size_t struct_size; /* set by the caller: sizeof(hone_layer_error_info) */
    const char* name;   /* valid while the handle lives and no tensor is added */
    uint64_t elements;
    double sqnr_db; /* 10·log10(Σ ref² / Σ err²); +inf (HUGE_VAL) when the error is 0 */
    double mse;
    double max_abs_error;
} hone_layer_error_info;

HONE_API hone_status hone_layer_errors_count(const hone_layer_errors* errors, size_t* count);
/* Layer `index` in the order first added; HONE_ERROR_OUT_OF_RANGE past the end. */
HONE_API hone_status hone_layer_errors_get(const hone_layer_errors* errors, size_t index,
                                           hone_layer_error_info* out);

/* ---- language models: paired perplexity, KL and top-1 figures with bootstrap intervals ------ *
 * Definitions in hone/validate/language_model.hpp: per position with a target y, NLL of each
 * model, KL(baseline || candidate) of the softmaxed logits, top-1 agreement and correctness
 * flips; pooled per slice and overall; intervals from a paired bootstrap over sequences. */

typedef struct hone_lm_comparison hone_lm_comparison;

HONE_API hone_status hone_lm_comparison_create(hone_lm_comparison** out);
HONE_API void hone_lm_comparison_destroy(hone_lm_comparison* comparison);

/* Targets for next-token prediction: tokens i64 [batch, seq] -> targets i64 [batch, seq]
 * (the caller's contiguous tensor), target[t] = token[t + 1], the last position -1. */
HONE_API hone_status hone_next_token_targets(const hone_tensor* tokens, hone_tensor* targets);

/* One batch of sequences: each model's logits f32 [batch, seq, vocab] and the targets i64
 * [batch, seq] (negative = no target). `slice_labels` names each sequence's slice (batch
 * strings, e.g. the book) or is NULL with count 0; give labels on every batch or on none. */
HONE_API hone_status hone_lm_comparison_add(hone_lm_comparison* comparison,
                                            const hone_tensor* baseline_logits,
                                            const hone_tensor* candidate_logits,
                                            const hone_tensor* targets,
                                            const char* const* slice_labels,
                                            size_t slice_label_count);

typedef struct hone_lm_params {
    size_t struct_size;
    double confidence; /* default 0.95 */
    int resamples;     /* default 2000 */
    uint64_t seed;     /* default 2026 */
} hone_lm_params;

HONE_API hone_status hone_lm_params_init(hone_lm_params* params);

/* Bootstraps the figures of every sequence added so far (`params` may be NULL) and keeps them
 * in the handle; `slice_count` (may be NULL) receives the number of labelled slices. */
HONE_API hone_status hone_lm_comparison_summarize(hone_lm_comparison* comparison,
                                                  const hone_lm_params* params,
                                                  size_t* slice_count);

typedef struct hone_estimate {
    double value;     /* on all sequences of the set */
    double low, high; /* bootstrap percentile interval */
} hone_estimate;

typedef struct hone_lm_slice_metrics {
    size_t struct_size; /* set by the caller: sizeof(hone_lm_slice_metrics) */
    const char* name;   /* "overall" or the label; valid until the next summarize */
    uint64_t sequences, tokens;
    hone_estimate baseline_perplexity, candidate_perplexity;
    hone_estimate perplexity_change; /* candidate / baseline - 1 */
    hone_estimate mean_kl;           /* nats per token */
    hone_estimate top1_agreement, flip_rate;
    hone_estimate baseline_accuracy, candidate_accuracy;
    hone_estimate accuracy_change; /* candidate - baseline accuracy, paired */
} hone_lm_slice_metrics;

/* After summarize: index 0 is the overall set, 1 ... slice_count the slices in order of first
 * appearance. HONE_ERROR_INVALID_ARGUMENT before summarize or for an index out of range. */
HONE_API hone_status hone_lm_comparison_slice(const hone_lm_comparison* comparison, size_t index,
                                              hone_lm_slice_metrics* out);
/* The summary of the last summarize as JSON, copied into `buffer` (see Strings at the top). */
HONE_API hone_status hone_lm_comparison_json(const hone_lm_comparison* comparison, char* buffer,
                                             size_t capacity, size_t* needed);

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
/* The public key as 64 lowercase hex digits, copied into `buffer` (see Strings at the top: a
 * capacity of 65 always suffices). */
HONE_API hone_status hone_key_public_hex(const hone_key* key, char* buffer, size_t capacity,
                                         size_t* needed);
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
    hone_ledger_action action;         /* default HONE_LEDGER_BASELINE */
    const char* actor;                 /* required: the identity that acts */
    uint64_t subject;                  /* approve/reject/promote: seq acted on; 0 = none */
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
 * Fails with HONE_ERROR_VERIFICATION_FAILED, writing nothing, when the ledger does not verify,
 * and with HONE_ERROR_INVALID_ARGUMENT when an approval rule of docs/ledger.md forbids the
 * record (e.g. an approval by the key that signed the change, or a key approving twice). */
HONE_API hone_status hone_ledger_append(hone_ledger* ledger, const hone_change_record* record,
                                        const hone_key* key, uint64_t* seq);

/* ---- trust store ----------------------------------------------------------------------------- */

/* A trust store: who holds which Ed25519 key and its roles (docs/ledger.md, "Trust store"). One
 * key per line, '#' starts a comment:
 *     <holder> <roles> <public key>
 * roles: a comma list of optimizer | approver | approver:<tier> (low, medium, high, critical);
 * public key: 64 hex digits. Errors (HONE_ERROR_FORMAT) name the line and the field. */
typedef struct hone_trust_store hone_trust_store;

/* Reads a trust store file (HONE_ERROR_IO when unreadable). */
HONE_API hone_status hone_trust_store_load(const char* path, hone_trust_store** out);
/* Parses `size` bytes of text; `source` (may be NULL) names it in error messages. */
HONE_API hone_status hone_trust_store_parse(const char* text, size_t size, const char* source,
                                            hone_trust_store** out);
/* Number of keys listed. */
HONE_API hone_status hone_trust_store_count(const hone_trust_store* store, size_t* count);
/* The holder of `public_key_hex`, copied into `buffer` (see Strings at the top);
 * HONE_ERROR_NOT_FOUND (`*needed` untouched) when the key is not listed. */
HONE_API hone_status hone_trust_store_holder(const hone_trust_store* store,
                                             const char* public_key_hex, char* buffer,
                                             size_t capacity, size_t* needed);
HONE_API void hone_trust_store_destroy(hone_trust_store* store);

/* hone_ledger_append with a trust store: an approve/reject/promote must then be signed by a key
 * the store lists, and an approval only by an approver of the change's tier who did not sign
 * the change (docs/ledger.md, "Approval rules"; the rules without a store apply either way). */
HONE_API hone_status hone_ledger_append_trusted(hone_ledger* ledger,
                                                const hone_change_record* record,
                                                const hone_key* key, const hone_trust_store* trust,
                                                uint64_t* seq);

/* ---- ledger verification and artifact checks ------------------------------------------------- */

typedef struct hone_verify_params {
    size_t struct_size;
    int require_signatures;            /* every record must be signed; default 0 */
    const char* const* trusted_actors; /* actor i must sign with trusted_keys[i] (hex) */
    const char* const* trusted_keys;
    size_t trusted_count;
    /* Added in 0.2 (read only when struct_size covers them): */
    const hone_trust_store* trust; /* NULL: none; approvals then count any distinct key */
    int strict; /* 1: every record signed by a key of `trust`, whatever the tier (always on for
                   a high or critical change); default 0 */
} hone_verify_params;

HONE_API hone_status hone_verify_params_init(hone_verify_params* params);

typedef struct hone_verify_result {
    size_t struct_size;  /* set by the caller: sizeof(hone_verify_result) */
    int ok;              /* 1 when the whole ledger verifies */
    uint64_t records;    /* records verified before the first problem */
    uint64_t first_bad;  /* line of the first problem; 0 = the head file */
    const char* problem; /* "" when ok; valid until the next call on this ledger handle */
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
    size_t struct_size; /* set by the caller: sizeof(hone_artifact_status) */
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

/* ---- load-time check ------------------------------------------------------------------------- */

/* The load-time check on the bytes an engine will actually load: hashes them (not a path that
 * could change in between), verifies the ledger (with `trust` and strict mode), re-derives the
 * matched record's decision and counts its approvals. The result says exactly what was
 * verified; `json` holds all of it:
 *   {"verdict", "reason", "artifact": {path, sha256, bytes}, "matched_record",
 *    "chain": {"intact", "records_verified", "head_sha256"}, "tier", "strict", "trust_store",
 *    "optimize_signer": {public_key, holder}, "decision_rederived",
 *    "approvals": {"required", "counted", "missing", "records": [{seq, actor, public_key,
 *    holder, counted, why_not}]}}
 * Only HONE_ARTIFACT_APPROVED means "load it". */
typedef struct hone_load_check hone_load_check; /* a result; owns its texts */

typedef struct hone_load_check_params {
    size_t struct_size;
    const char* ledger_path;       /* required */
    const hone_trust_store* trust; /* may be NULL */
    int strict;                    /* as in hone_verify_params; default 0 */
} hone_load_check_params;

HONE_API hone_status hone_load_check_params_init(hone_load_check_params* params);

/* `size` bytes at `data` (data may be NULL only when size is 0). */
HONE_API hone_status hone_load_check_buffer(const void* data, size_t size,
                                            const hone_load_check_params* params,
                                            hone_load_check** out);
/* An open file descriptor, read from offset 0 to its end with pread (its offset is unchanged). */
HONE_API hone_status hone_load_check_fd(int fd, const hone_load_check_params* params,
                                        hone_load_check** out);

typedef struct hone_load_check_info {
    size_t struct_size; /* set by the caller: sizeof(hone_load_check_info) */
    hone_artifact_verdict verdict;
    uint64_t matched_record; /* the optimize record the bytes matched, 0 if none */
    uint64_t chain_records;  /* records verified (all, when chain_intact) */
    int chain_intact;        /* 1: every record, signature and the head file verified */
    int decision_rederived;  /* 1: the stored decision equals the re-derived one */
    int strict;              /* 1: strict mode was applied */
    uint64_t approvals_required;
    uint64_t approvals_counted;
    char sha256[65]; /* of the bytes checked */
    uint64_t bytes;
    const char* signer_holder; /* holder of the optimize record's key ("" if unknown) */
    const char* reason;        /* valid while the result lives */
    const char* json;          /* everything, as above; valid while the result lives */
} hone_load_check_info;

HONE_API hone_status hone_load_check_get(const hone_load_check* result, hone_load_check_info* out);
HONE_API void hone_load_check_destroy(hone_load_check* result);

/* ---- CycloneDX ML-BOM ------------------------------------------------------------------------ */

/* A CycloneDX 1.6 ML-BOM of one optimize record (docs/ledger.md, "CycloneDX ML-BOM"): the
 * candidate model with its SHA-256 and model card (performance metrics with value, slice and
 * confidence interval; tier and verdict), the base model, the data sets with their files'
 * SHA-256, the recipe. The same record gives the same bytes. */
typedef struct hone_cyclonedx_params {
    size_t struct_size;
    uint64_t seq; /* the optimize record; 0 (default): the newest optimize record */
} hone_cyclonedx_params;

HONE_API hone_status hone_cyclonedx_params_init(hone_cyclonedx_params* params);

/* Verifies the whole ledger (HONE_ERROR_VERIFICATION_FAILED when it does not verify or the
 * record's stored decision is not the one its metrics and policy give), then writes the BOM
 * (indented JSON, NUL-terminated) into `buffer` when `capacity` suffices; `*needed` (may be
 * NULL) receives its size including the NUL. A too small buffer (NULL with capacity 0 asks for
 * the size) gives HONE_ERROR_OUT_OF_RANGE with `*needed` set. HONE_ERROR_INVALID_ARGUMENT: `seq`
 * is not an optimize record (or there is none); HONE_ERROR_FORMAT: its metrics, policy or
 * decision are malformed (the message names the record and the field). `params` may be NULL. */
HONE_API hone_status hone_ledger_export_cyclonedx(hone_ledger* ledger,
                                                  const hone_cyclonedx_params* params, char* buffer,
                                                  size_t capacity, size_t* needed);

/* ---- optimize flow -----------------------------------------------------------------------------
 * The optimize flow (include/hone/pipeline/optimize.hpp, docs/pipeline.md): baseline →
 * calibration → recipe → candidate → deployable artifact → validation → decision → ledger
 * record → report, in one call — what `hone optimize` runs. */

/* Progress of the current stage (total 0 = unknown); return 0 to cancel the run, which then
 * fails with HONE_ERROR_CANCELLED (a baseline record already appended stays; nothing else is
 * written). */
typedef int (*hone_progress_fn)(void* user, const char* stage, uint64_t done, uint64_t total);
/* A note for people (e.g. the baseline's accuracy); `text` is valid during the call. */
typedef void (*hone_note_fn)(void* user, const char* text);

/* An engine's own executor for the validation inside hone_optimize: called with role "baseline"
 * and the baseline's ONNX bytes (as hone loaded it: external data inlined), then with role
 * "candidate" and the deployable file's bytes (exactly what is written to `out`); the bytes are
 * valid during the call. Creates *out with hone_runner_create; hone destroys it. Return HONE_OK,
 * or an error status (the run then fails with it: nothing is written after the baseline record).
 * The validation's accuracy, agreement, latency and the decision are then the engine's. */
typedef hone_status (*hone_runner_factory_fn)(void* user, const char* role, const void* model,
                                              size_t size, hone_runner** out);

typedef struct hone_optimize_params {
    size_t struct_size;      /* sizeof(hone_optimize_params), set by _init */
    const char* model;       /* ONNX file (required) */
    const char* recipe;      /* preset ("int8", "int4", ...), recipe JSON file or JSON text */
    hone_data_source calib;  /* calibration data (required) */
    hone_data_source eval;   /* evaluation data (required; without labels accuracy is
                                top-1 agreement with the baseline) */
    const char* policy;      /* tier name or policy JSON file; NULL = "medium" */
    const char* out;         /* the artifact: a .onnx path or a folder (required) */
    const char* format;      /* "qdq" (default), "matmulnbits", "hone" */
    const char* ledger;      /* JSONL change ledger (required; created when missing) */
    const char* report_dir;  /* report.json + report.html; NULL = none */
    const char* actor;       /* NULL = "hone" */
    const char* key_path;    /* Ed25519 PEM private key; NULL = unsigned records */
    const char* input_shape; /* "1x28x28"; NULL = the model's input */
    uint64_t seed;           /* 2026: seed of the `:N` subsets */
    int64_t batch;           /* 256: evaluation batch */
    const int64_t* latency_batches; /* NULL = {1, 64} */
    size_t latency_batch_count;
    double confidence;         /* 0.95 */
    int repeats;               /* 20: timed runs per latency figure */
    hone_progress_fn progress; /* may be NULL */
    hone_note_fn note;         /* may be NULL */
    void* user;                /* passed to progress and note */
    /* Accuracy-aware search (docs/pipeline.md): < 0 (the default) = as the recipe says; else the
     * layers that cost most accuracy are kept in f32 until the drop on the first calibration
     * samples is at most this fraction (0.003 = 0.3 points), relative to the baseline's accuracy
     * when relative_drop is 1. The trials are in the report JSON ("search") and the record. */
    double tolerable_drop;
    int relative_drop;
    /* Mixed precision under a budget (docs/pipeline.md): <= 0 (the default) = as the recipe
     * says; else each layer 8-bit, 4-bit or f32 so the selected layers' weights average at most
     * this many bits, with the least measured output noise. Not with tolerable_drop. The
     * allocation is in the report JSON ("budget") and the record. */
    double target_bits_per_weight;
    /* The engine's runners for the validation (NULL = hone's executor); the format must be qdq
     * or matmulnbits. */
    hone_runner_factory_fn runner_factory;
    void* runner_user; /* passed to runner_factory */
    /* The same budget with the deployable file as the target: 0 (the default) = as the recipe
     * says; else the file written is at most this many bytes when the choices allow it (the
     * report's "budget" says whether it is). Not with target_bits_per_weight. Added after
     * runner_user: a struct_size that ends before it reads as 0. */
    uint64_t target_file_bytes;
} hone_optimize_params;

HONE_API hone_status hone_optimize_params_init(hone_optimize_params* params);

typedef struct hone_optimize_result hone_optimize_result;

typedef struct hone_optimize_summary {
    size_t struct_size; /* set by the caller: sizeof(hone_optimize_summary) */
    hone_verdict verdict;
    uint32_t approvals_missing; /* needs_signoff: distinct trusted approvals still needed */
    uint64_t artifact_bytes;    /* the deployable file's size */
    int64_t baseline_seq;       /* ledger record of the baseline; -1 none */
    int64_t record_seq;         /* ledger record of this change; -1 none */
    int record_signed;          /* 1 when that record is signed */
} hone_optimize_summary;

/* Runs the whole flow. On success `*out` holds what it concluded (the artifact is written, the
 * records appended); the verdict is in the summary, not the status: a rejected candidate is a
 * success of the call. */
HONE_API hone_status hone_optimize(const hone_optimize_params* params, hone_optimize_result** out);
HONE_API hone_status hone_optimize_result_summary(const hone_optimize_result* result,
                                                  hone_optimize_summary* out);
/* The evidence document (report JSON, docs/cli.md "Report") / the path of artifact `index`
 * (0: the deployable file; *count gives how many): copied into `buffer` (NUL-terminated) when
 * `capacity` suffices; `*needed` (may be NULL) receives the size including the NUL. A too small
 * buffer gives HONE_ERROR_OUT_OF_RANGE with `*needed` set. */
HONE_API hone_status hone_optimize_result_report_json(const hone_optimize_result* result,
                                                      char* buffer, size_t capacity,
                                                      size_t* needed);
HONE_API hone_status hone_optimize_result_artifact(const hone_optimize_result* result, size_t index,
                                                   char* buffer, size_t capacity, size_t* needed,
                                                   size_t* count);
HONE_API void hone_optimize_result_destroy(hone_optimize_result* result);

/* ---- language-model checkpoints (hone/pipeline/checkpoint_quantize.hpp, docs/scale.md) ------ */

/* A LLaMA checkpoint folder (config.json + one or many safetensors shards) quantized to a GGUF
 * file for llama.cpp (format "gguf": Q8_0, Q4_0 or Q4_K) or to a compressed-tensors
 * pack-quantized checkpoint folder for vLLM (format "compressed-tensors": int4/int8, group-wise
 * or per channel), one weight matrix in memory at a time, calibration importance from `calib`,
 * resumable from its work folder after a kill (same bytes); then validated against the
 * checkpoint on the held-out token ids `eval` (perplexity, mean KL, top-1 agreement, per slice,
 * with intervals), decided by the policy's language-model gates and recorded in `ledger` with
 * every output file's and checkpoint shard's SHA-256 (`hone checkpoint quantize`). */
/* Several processes (ranks) sharing one run (hone/core/process_group.hpp, docs/scale.md): the
 * caller's transport as two callbacks, e.g. over MPI_Send/MPI_Recv. Every rank calls
 * hone_checkpoint_quantize with the same params, each with its own group: the ranks take
 * contiguous ranges of the checkpoint's pieces (the calibration hidden states passed from rank
 * to rank) and of the evaluation batches; rank 0 writes the output, the record and the report;
 * every rank's summary holds the same figures. The output is byte-identical to one process's.
 * Messages between two ranks must arrive in the order sent. */
typedef struct hone_process_group {
    size_t struct_size; /* sizeof(hone_process_group) */
    int rank;           /* this process: 0 <= rank < size */
    int size;           /* the number of ranks, >= 1 */
    void* context;      /* passed to the callbacks */
    /* Sends `bytes` bytes (possibly 0) to rank `to`, returning when `data` may be reused; 0 on
     * success, anything else fails the run with HONE_ERROR_IO. */
    int (*send)(void* context, int to, const void* data, size_t bytes);
    /* The next message from rank `from`, blocking until it arrives: *data a buffer from malloc
     * (hone frees it with free(); NULL for an empty message), *bytes its size; 0 on success. */
    int (*receive)(void* context, int from, void** data, size_t* bytes);
} hone_process_group;

typedef struct hone_checkpoint_params {
    size_t struct_size;     /* sizeof(hone_checkpoint_params), set by _init */
    const char* checkpoint; /* the checkpoint folder (required) */
    const char* out;        /* the .gguf file or the output folder (required) */
    const char* format;     /* "gguf" (default) or "compressed-tensors" */
    const char* type;       /* gguf: "Q8_0", "Q4_0" or "Q4_K" (default) */
    int bits;               /* compressed-tensors: 4 (default) or 8 */
    int64_t group_size;     /* compressed-tensors: 128 (default); 0 = one scale per channel */
    int symmetric;          /* compressed-tensors: 1 (default); 0 = zero points */
    const char* calib;      /* data spec of calibration token ids; NULL = plain rounding */
    const char* eval;       /* data spec of held-out token ids (required) */
    const char* slices;     /* slice file of the evaluation data; NULL = none */
    int64_t sequence;       /* tokens per sequence for TEXT.txt specs; 0 = NPY as stored */
    int sequential;         /* 1 (default): calibrate on what the quantized layers compute */
    const char* work_dir;   /* NULL = out + ".work" */
    const char* policy;     /* tier name or policy JSON file; NULL = "medium" */
    const char* ledger;     /* NULL = no record */
    const char* report_dir; /* report.json + report.html; NULL = none */
    const char* actor;      /* NULL = "hone" */
    const char* key_path;   /* Ed25519 PEM private key; NULL = unsigned record */
    int64_t batch;          /* 16: sequences per run */
    const hone_process_group* group; /* NULL: this process alone (a later field: read only
                                        when struct_size covers it) */
} hone_checkpoint_params;

HONE_API hone_status hone_checkpoint_params_init(hone_checkpoint_params* params);

typedef struct hone_checkpoint_summary {
    size_t struct_size; /* set by the caller: sizeof(hone_checkpoint_summary) */
    hone_verdict verdict;
    uint64_t output_bytes;     /* the files written */
    uint64_t checkpoint_bytes; /* the input shards */
    int64_t pieces;            /* embedding, blocks, head */
    int64_t pieces_resumed;    /* found committed in the work folder */
    int64_t record_seq;        /* ledger record of this change; -1 none */
    double perplexity_change;  /* candidate / baseline - 1 on the evaluation data */
    double mean_kl;            /* nats per token, KL(checkpoint || output) */
    double top1_agreement;
} hone_checkpoint_summary;

/* Runs it all; `*out` is written on success only. A rejected output is a success of the call:
 * the verdict is in the summary. */
HONE_API hone_status hone_checkpoint_quantize(const hone_checkpoint_params* params,
                                              hone_checkpoint_summary* out);

/* A candidate made elsewhere against its baseline (`hone validate`; hone::validate_change): both
 * ONNX files run as their doc strings say (a file hone wrote in the precision optimize validated,
 * a `--format hone` file with its packed weights read from the safetensors beside it, any other
 * in f32), on the evaluation data; sizes are the files' bytes; the decision is the policy's, and
 * a record goes into `ledger` when one is given. The members shared with hone_optimize_params
 * mean the same. */
typedef struct hone_validate_change_params {
    size_t struct_size;             /* sizeof(hone_validate_change_params), set by _init */
    const char* baseline;           /* ONNX file (required) */
    const char* candidate;          /* ONNX file (required) */
    hone_data_source eval;          /* evaluation data (required) */
    const char* policy;             /* tier name or policy JSON file; NULL = "medium" */
    const char* ledger;             /* NULL = no record */
    const char* report_dir;         /* report.json + report.html; NULL = none */
    const char* actor;              /* NULL = "hone" */
    const char* key_path;           /* Ed25519 PEM private key; NULL = unsigned record */
    const char* input_shape;        /* NULL = the model's input */
    uint64_t seed;                  /* 2026: seed of the `:N` subsets */
    int64_t batch;                  /* 256 */
    const int64_t* latency_batches; /* NULL = {1, 64} */
    size_t latency_batch_count;
    double confidence;         /* 0.95 */
    int repeats;               /* 20 */
    hone_progress_fn progress; /* may be NULL */
    hone_note_fn note;         /* may be NULL */
    void* user;                /* passed to progress and note */
    /* The engine's runners, given each file's exact bytes (NULL = hone's executor); a file with
     * hone's packed weights is refused with it. */
    hone_runner_factory_fn runner_factory;
    void* runner_user;
} hone_validate_change_params;

HONE_API hone_status hone_validate_change_params_init(hone_validate_change_params* params);
/* On success `*out` holds the conclusion, read with the hone_optimize_result_ functions (nothing
 * is written but the record and report: artifact 0 is the candidate file, artifact_bytes its
 * size). */
HONE_API hone_status hone_validate_change(const hone_validate_change_params* params,
                                          hone_optimize_result** out);

#ifdef __cplusplus
}
#endif

#endif /* HONE_H */
