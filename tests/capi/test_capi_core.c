/* Drives every function of the C ABI core from C99, against hone.h alone, error paths too. */
#include <hone/hone.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static void test_versions(void) {
    char expected[32];
    int major = -1, minor = -1, patch = -1;
    snprintf(expected, sizeof expected, "%d.%d.%d", HONE_VERSION_MAJOR, HONE_VERSION_MINOR,
             HONE_VERSION_PATCH);
    CHECK(strcmp(hone_version(), expected) == 0);
    hone_version_numbers(&major, &minor, &patch);
    CHECK(major == HONE_VERSION_MAJOR && minor == HONE_VERSION_MINOR &&
          patch == HONE_VERSION_PATCH);
    hone_version_numbers(NULL, NULL, NULL);
    CHECK(hone_abi_version() == HONE_ABI_VERSION);
    CHECK(hone_packed_format_version() == HONE_PACKED_FORMAT_VERSION);
}

static void test_status(void) {
    CHECK(HONE_OK == 0);
    CHECK(strcmp(hone_status_string(HONE_OK), "HONE_OK") == 0);
    CHECK(strcmp(hone_status_string(HONE_ERROR_SHAPE_MISMATCH), "HONE_ERROR_SHAPE_MISMATCH") == 0);
    CHECK(strcmp(hone_status_string((hone_status)1000), "HONE_ERROR_UNKNOWN") == 0);
    CHECK(hone_last_error() != NULL);
}

static void test_threads(void) {
    int n = 0;
    CHECK(hone_set_num_threads(2) == HONE_OK);
    CHECK(hone_get_num_threads(&n) == HONE_OK && n == 2);
    CHECK(hone_set_num_threads(0) == HONE_OK);
    CHECK(hone_get_num_threads(&n) == HONE_OK && n >= 1);
    CHECK_FAILS(hone_get_num_threads(NULL), HONE_ERROR_INVALID_ARGUMENT, "'out' is NULL");
}

static void test_dtypes(void) {
    CHECK(strcmp(hone_dtype_name(HONE_DTYPE_BF16), "bf16") == 0);
    CHECK(strcmp(hone_dtype_name(HONE_DTYPE_BOOL), "bool") == 0);
    CHECK(hone_dtype_name((hone_dtype)77) == NULL);
    CHECK(hone_dtype_bits(HONE_DTYPE_U4) == 4);
    CHECK(hone_dtype_bits(HONE_DTYPE_I64) == 64);
    CHECK(hone_dtype_bits((hone_dtype)-1) == 0);
}

static void test_create_and_query(void) {
    const int64_t dims[3] = {2, 3, 4};
    int64_t got[3] = {0, 0, 0};
    hone_tensor_params p;
    hone_tensor* t = NULL;
    hone_dtype dt = HONE_DTYPE_BOOL;
    size_t rank = 0, nbytes = 0;
    int64_t numel = 0;
    void* data = NULL;
    int owner = -1, i;

    CHECK(hone_tensor_params_init(&p) == HONE_OK);
    CHECK(p.struct_size == sizeof p && p.dtype == HONE_DTYPE_F32 && p.rank == 0);
    p.rank = 3;
    p.dims = dims;
    CHECK(hone_tensor_create(&p, &t) == HONE_OK);
    CHECK(hone_tensor_dtype(t, &dt) == HONE_OK && dt == HONE_DTYPE_F32);
    CHECK(hone_tensor_rank(t, &rank) == HONE_OK && rank == 3);
    CHECK(hone_tensor_shape(t, got, 3) == HONE_OK);
    CHECK(got[0] == 2 && got[1] == 3 && got[2] == 4);
    CHECK(hone_tensor_strides(t, got, 3) == HONE_OK);
    CHECK(got[0] == 12 && got[1] == 4 && got[2] == 1);
    CHECK(hone_tensor_numel(t, &numel) == HONE_OK && numel == 24);
    CHECK(hone_tensor_nbytes(t, &nbytes) == HONE_OK && nbytes == 96);
    CHECK(hone_tensor_data(t, &data) == HONE_OK && data != NULL);
    CHECK(((uintptr_t)data % 64) == 0);
    for (i = 0; i < 24; ++i)
        CHECK(((float*)data)[i] == 0.0f);
    CHECK(hone_tensor_is_owner(t, &owner) == HONE_OK && owner == 1);

    /* error paths leave out-params untouched */
    rank = 99;
    CHECK_FAILS(hone_tensor_rank(NULL, &rank), HONE_ERROR_INVALID_ARGUMENT, "'tensor' is NULL");
    CHECK(rank == 99);
    CHECK_FAILS(hone_tensor_shape(t, got, 2), HONE_ERROR_OUT_OF_RANGE, "capacity 2");
    CHECK_FAILS(hone_tensor_shape(t, NULL, 3), HONE_ERROR_INVALID_ARGUMENT, "'dims' is NULL");
    CHECK_FAILS(hone_tensor_dtype(t, NULL), HONE_ERROR_INVALID_ARGUMENT, "'out' is NULL");
    CHECK_FAILS(hone_tensor_numel(NULL, &numel), HONE_ERROR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(hone_tensor_nbytes(t, NULL), HONE_ERROR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(hone_tensor_data(NULL, &data), HONE_ERROR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(hone_tensor_is_owner(NULL, &owner), HONE_ERROR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(hone_tensor_strides(t, NULL, 3), HONE_ERROR_INVALID_ARGUMENT, "'strides' is NULL");
    hone_tensor_destroy(t);
    hone_tensor_destroy(NULL);

    /* a scalar: rank 0, dims may be NULL */
    CHECK(hone_tensor_params_init(&p) == HONE_OK);
    t = NULL;
    CHECK(hone_tensor_create(&p, &t) == HONE_OK);
    CHECK(hone_tensor_numel(t, &numel) == HONE_OK && numel == 1);
    CHECK(hone_tensor_shape(t, NULL, 0) == HONE_OK);
    hone_tensor_destroy(t);
}

static void test_create_errors(void) {
    const int64_t negative[2] = {3, -1};
    const int64_t huge[2] = {INT64_MAX / 2, 3};
    const int64_t big[2] = {(int64_t)1 << 40, 8};
    const int64_t strides[1] = {1};
    hone_tensor_params p;
    hone_tensor* t = NULL;

    CHECK_FAILS(hone_tensor_params_init(NULL), HONE_ERROR_INVALID_ARGUMENT, "'params' is NULL");
    hone_tensor_params_init(&p);
    CHECK_FAILS(hone_tensor_create(NULL, &t), HONE_ERROR_INVALID_ARGUMENT, "'params' is NULL");
    CHECK_FAILS(hone_tensor_create(&p, NULL), HONE_ERROR_INVALID_ARGUMENT, "'out' is NULL");
    p.rank = 2;
    p.dims = negative;
    CHECK_FAILS(hone_tensor_create(&p, &t), HONE_ERROR_INVALID_ARGUMENT, "dimension 1 is negative");
    p.dims = huge;
    CHECK_FAILS(hone_tensor_create(&p, &t), HONE_ERROR_OUT_OF_RANGE, "overflows");
    p.dims = big;
    CHECK_FAILS(hone_tensor_create(&p, &t), HONE_ERROR_OUT_OF_MEMORY, "cannot allocate");
    p.dims = NULL;
    CHECK_FAILS(hone_tensor_create(&p, &t), HONE_ERROR_INVALID_ARGUMENT, "dims is NULL");
    p.rank = 9;
    CHECK_FAILS(hone_tensor_create(&p, &t), HONE_ERROR_INVALID_ARGUMENT, "HONE_MAX_RANK");
    p.rank = 1;
    p.dims = negative;
    p.strides = strides;
    CHECK_FAILS(hone_tensor_create(&p, &t), HONE_ERROR_INVALID_ARGUMENT, "strides must be NULL");
    p.strides = NULL;
    p.dtype = (hone_dtype)42;
    CHECK_FAILS(hone_tensor_create(&p, &t), HONE_ERROR_INVALID_ARGUMENT, "not a hone_dtype");
    hone_tensor_params_init(&p);
    p.struct_size = 4;
    CHECK_FAILS(hone_tensor_create(&p, &t), HONE_ERROR_INVALID_ARGUMENT, "struct_size");
    CHECK(t == NULL); /* untouched through every failure */
}

static void test_wrap(void) {
    float buffer[12];
    const int64_t dims[2] = {3, 4};
    const int64_t transposed_dims[2] = {4, 3};
    const int64_t transposed[2] = {1, 4};
    const int64_t too_wide[2] = {5, 1};
    hone_tensor_params p;
    hone_tensor* t = NULL;
    hone_tensor* tt = NULL;
    hone_tensor* dense = NULL;
    void* data = NULL;
    int owner = -1, i;
    size_t nbytes = 0;

    for (i = 0; i < 12; ++i)
        buffer[i] = (float)i;
    hone_tensor_params_init(&p);
    p.rank = 2;
    p.dims = dims;
    CHECK(hone_tensor_wrap(&p, buffer, sizeof buffer, &t) == HONE_OK);
    CHECK(hone_tensor_data(t, &data) == HONE_OK && data == (void*)buffer);
    CHECK(hone_tensor_is_owner(t, &owner) == HONE_OK && owner == 0);

    /* a transposed view, gathered into a dense tensor */
    p.dims = transposed_dims;
    p.strides = transposed;
    CHECK(hone_tensor_wrap(&p, buffer, sizeof buffer, &tt) == HONE_OK);
    CHECK(hone_tensor_nbytes(tt, &nbytes) == HONE_OK && nbytes == 48);
    p.strides = NULL;
    CHECK(hone_tensor_create(&p, &dense) == HONE_OK);
    CHECK(hone_tensor_copy(tt, dense) == HONE_OK);
    hone_tensor_data(dense, &data);
    CHECK(((float*)data)[1] == 4.0f && ((float*)data)[3] == 1.0f && ((float*)data)[11] == 11.0f);

    /* out of bounds, null, misaligned */
    hone_tensor* bad = NULL;
    p.dims = dims;
    CHECK_FAILS(hone_tensor_wrap(&p, buffer, sizeof buffer - 1, &bad), HONE_ERROR_OUT_OF_RANGE,
                "needs 48 bytes; the buffer has 47");
    p.strides = too_wide;
    CHECK_FAILS(hone_tensor_wrap(&p, buffer, sizeof buffer, &bad), HONE_ERROR_OUT_OF_RANGE,
                "hone_tensor_wrap");
    p.strides = NULL;
    CHECK_FAILS(hone_tensor_wrap(&p, NULL, 48, &bad), HONE_ERROR_INVALID_ARGUMENT, "null buffer");
    CHECK_FAILS(hone_tensor_wrap(&p, (char*)buffer + 2, 40, &bad), HONE_ERROR_INVALID_ARGUMENT,
                "not aligned");
    CHECK(bad == NULL);

    /* mismatched copies */
    CHECK_FAILS(hone_tensor_copy(t, dense), HONE_ERROR_SHAPE_MISMATCH, "shape [3, 4]");
    CHECK_FAILS(hone_tensor_copy(NULL, dense), HONE_ERROR_INVALID_ARGUMENT, "NULL");
    CHECK_FAILS(hone_tensor_copy(t, NULL), HONE_ERROR_INVALID_ARGUMENT, "'dst' is NULL");
    {
        hone_tensor* ints = NULL;
        p.dtype = HONE_DTYPE_I32;
        CHECK(hone_tensor_create(&p, &ints) == HONE_OK);
        CHECK_FAILS(hone_tensor_copy(t, ints), HONE_ERROR_DTYPE_MISMATCH,
                    "cannot copy f32 into i32");
        hone_tensor_destroy(ints);
    }
    hone_tensor_destroy(dense);
    hone_tensor_destroy(tt);
    hone_tensor_destroy(t);
}

static void test_float_conversion(void) {
    /* f32 → f16 and bf16, round to nearest even, specials kept */
    float src[6] = {1.0f, -0.0f, 65520.0f, 0.0f, 1.0009765625f, 3.0f};
    uint16_t h[6], b[6];
    const int64_t dims[1] = {6};
    hone_tensor_params p;
    hone_tensor *ts = NULL, *th = NULL, *tb = NULL;
    float inf = 1e30f;
    inf *= 1e30f;
    src[3] = -inf;
    hone_tensor_params_init(&p);
    p.rank = 1;
    p.dims = dims;
    CHECK(hone_tensor_wrap(&p, src, sizeof src, &ts) == HONE_OK);
    p.dtype = HONE_DTYPE_F16;
    CHECK(hone_tensor_wrap(&p, h, sizeof h, &th) == HONE_OK);
    p.dtype = HONE_DTYPE_BF16;
    CHECK(hone_tensor_wrap(&p, b, sizeof b, &tb) == HONE_OK);
    CHECK(hone_tensor_copy(ts, th) == HONE_OK);
    CHECK(hone_tensor_copy(ts, tb) == HONE_OK);
    CHECK(h[0] == 0x3c00 && h[1] == 0x8000 && h[2] == 0x7c00 && h[3] == 0xfc00);
    CHECK(h[4] == 0x3c01 && h[5] == 0x4200);
    CHECK(b[0] == 0x3f80 && b[1] == 0x8000 && b[2] == 0x4780 && b[3] == 0xff80);
    CHECK(b[4] == 0x3f80 && b[5] == 0x4040);
    hone_tensor_destroy(ts);
    hone_tensor_destroy(th);
    hone_tensor_destroy(tb);
}

int main(void) {
    test_versions();
    test_status();
    test_threads();
    test_dtypes();
    test_create_and_query();
    test_create_errors();
    test_wrap();
    test_float_conversion();
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    else
        printf("C ABI core: all checks passed\n");
    return failures ? 1 : 0;
}
