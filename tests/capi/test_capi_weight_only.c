/* Drives every weight-only int4 function of the C ABI from C99, against hone.h alone, error
 * paths too. */
#include <hone/hone.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

enum { N = 4, K = 64, G = 32 };

static hone_tensor* make(hone_dtype dtype, size_t rank, int64_t d0, int64_t d1) {
    const int64_t dims[2] = {d0, d1};
    return create_tensor(dtype, rank, dims);
}

/* w[r][c] = (c + r) % 15 - 7: integers in [-7, 7] with max |w| = 7 per group, so symmetric
 * scales are exactly 1 and q = w. */
static void fill_weights(float* w) {
    int r, c;
    for (r = 0; r < N; ++r)
        for (c = 0; c < K; ++c)
            w[r * K + c] = (float)((c + r) % 15 - 7);
}

static void test_symmetric(void) {
    hone_int4_weights_params p;
    hone_int4_weights *w = NULL, *w2 = NULL;
    hone_tensor* src = make(HONE_DTYPE_F32, 2, N, K);
    hone_tensor* packed = make(HONE_DTYPE_I4, 2, N, K);
    hone_tensor* scales = make(HONE_DTYPE_F32, 2, N, K / G);
    hone_tensor* deq = make(HONE_DTYPE_F32, 2, N, K);
    hone_tensor* x = make(HONE_DTYPE_F32, 1, K, 0);
    hone_tensor* y = make(HONE_DTYPE_F32, 1, N, 0);
    hone_tensor* bias = make(HONE_DTYPE_F32, 1, N, 0);
    hone_tensor* xm = make(HONE_DTYPE_F32, 2, 17, K);
    hone_tensor* ym = make(HONE_DTYPE_F32, 2, 17, N);
    float* wf = (float*)tensor_data(src);
    float *xf = (float*)tensor_data(x), *yf = (float*)tensor_data(y),
          *bf = (float*)tensor_data(bias);
    float *xmf = (float*)tensor_data(xm), *ymf = (float*)tensor_data(ym);
    int64_t n = 0, k = 0;
    size_t nbytes = 0;
    int r, c, i, ok;
    const unsigned char* q;

    fill_weights(wf);
    CHECK(hone_int4_weights_params_init(&p) == HONE_OK);
    CHECK(p.struct_size == sizeof p && p.group_size == 128 && p.symmetric == 1 &&
          p.scale_dtype == HONE_DTYPE_F32);
    p.group_size = G;
    CHECK(hone_int4_weights_create(&p, src, &w) == HONE_OK);
    CHECK(hone_int4_weights_shape(w, &n, &k) == HONE_OK && n == N && k == K);
    CHECK(hone_int4_weights_shape(w, NULL, NULL) == HONE_OK);
    CHECK(hone_int4_weights_nbytes(w, &nbytes) == HONE_OK && nbytes == N * K / 2 + N * 2 * 4);
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    CHECK(hone_int4_weights_get_params(w, &p) == HONE_OK);
    CHECK(p.group_size == G && p.symmetric == 1 && p.scale_dtype == HONE_DTYPE_F32);

    /* Known bytes: row 0 starts -7, -6 → nibbles 0x9, 0xa → byte 0xa9; scales exactly 1. */
    CHECK(hone_int4_weights_export(w, packed, scales, NULL) == HONE_OK);
    q = (const unsigned char*)tensor_data(packed);
    CHECK(q[0] == 0xa9);
    CHECK(q[K / 2] == 0xba); /* row 1: -6, -5 */
    CHECK(((float*)tensor_data(scales))[0] == 1.0f && ((float*)tensor_data(scales))[7] == 1.0f);

    CHECK(hone_int4_weights_dequantize(w, deq) == HONE_OK);
    CHECK(memcmp(tensor_data(deq), wf, sizeof(float) * N * K) == 0);

    /* GEMV: exact integers. */
    for (c = 0; c < K; ++c)
        xf[c] = (float)(c % 5 - 2);
    for (r = 0; r < N; ++r)
        bf[r] = 0.5f * (float)r;
    CHECK(hone_int4_matmul(w, x, bias, y) == HONE_OK);
    for (r = 0; r < N; ++r) {
        float want = bf[r];
        for (c = 0; c < K; ++c)
            want += wf[r * K + c] * xf[c];
        CHECK(yf[r] == want);
    }
    CHECK(hone_int4_matmul(w, x, NULL, y) == HONE_OK);

    /* M = 17: dequantize + oneDNN; rows are exact small integers. */
    for (i = 0; i < 17 * K; ++i)
        xmf[i] = (float)(i % 3 - 1);
    CHECK(hone_int4_matmul(w, xm, bias, ym) == HONE_OK);
    ok = 1;
    for (i = 0; i < 17; ++i)
        for (r = 0; r < N; ++r) {
            float want = bf[r];
            for (c = 0; c < K; ++c)
                want += wf[r * K + c] * xmf[i * K + c];
            ok = ok && fabsf(ymf[i * N + r] - want) <= 1e-4f;
        }
    CHECK(ok);

    /* Re-import the exported parts: same results. */
    p.group_size = G;
    CHECK(hone_int4_weights_create_packed(&p, packed, scales, NULL, &w2) == HONE_OK);
    CHECK(hone_int4_matmul(w, x, bias, ym) == HONE_ERROR_SHAPE_MISMATCH);
    {
        float first[N];
        CHECK(hone_int4_matmul(w, x, bias, y) == HONE_OK);
        memcpy(first, yf, sizeof first);
        memset(yf, 0, sizeof first);
        CHECK(hone_int4_matmul(w2, x, bias, y) == HONE_OK);
        CHECK(memcmp(first, yf, sizeof first) == 0);
    }
    hone_int4_weights_destroy(w2);

    /* Errors: out-parameters and outputs untouched. */
    yf[0] = 123.0f;
    {
        hone_tensor* x_bad = make(HONE_DTYPE_F32, 1, K - 2, 0);
        hone_tensor* x_f16 = make(HONE_DTYPE_F16, 1, K, 0);
        hone_tensor* b_bad = make(HONE_DTYPE_F32, 1, N + 1, 0);
        hone_tensor* b_i32 = make(HONE_DTYPE_I32, 1, N, 0);
        hone_tensor* packed_u4 = make(HONE_DTYPE_U4, 2, N, K);
        hone_tensor* scales_bad = make(HONE_DTYPE_F32, 2, N, 3);
        CHECK_FAILS(hone_int4_matmul(w, x_bad, NULL, y), HONE_ERROR_SHAPE_MISMATCH,
                    "hone_int4_matmul: x is [62] but the weights have K = 64");
        CHECK_FAILS(hone_int4_matmul(w, x_f16, NULL, y), HONE_ERROR_DTYPE_MISMATCH,
                    "x must be f32, got f16");
        CHECK_FAILS(hone_int4_matmul(w, x, b_bad, y), HONE_ERROR_SHAPE_MISMATCH,
                    "bias must be [4], got [5]");
        CHECK_FAILS(hone_int4_matmul(w, x, b_i32, y), HONE_ERROR_DTYPE_MISMATCH,
                    "bias must be f32, got i32");
        CHECK_FAILS(hone_int4_matmul(NULL, x, NULL, y), HONE_ERROR_INVALID_ARGUMENT,
                    "'weights' is NULL");
        CHECK_FAILS(hone_int4_matmul(w, x, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT, "'y' is NULL");
        CHECK(yf[0] == 123.0f);
        CHECK_FAILS(hone_int4_weights_export(w, packed_u4, scales, NULL), HONE_ERROR_DTYPE_MISMATCH,
                    "packed must be i4, got u4");
        CHECK_FAILS(hone_int4_weights_export(w, packed, scales_bad, NULL),
                    HONE_ERROR_SHAPE_MISMATCH, "scales must be [4, 2], got [4, 3]");
        CHECK_FAILS(hone_int4_weights_export(w, packed, scales, packed_u4),
                    HONE_ERROR_INVALID_ARGUMENT, "have no zero points");
        CHECK_FAILS(hone_int4_weights_dequantize(w, y), HONE_ERROR_SHAPE_MISMATCH,
                    "dst must be [N, K] = [4, 64], got [4]");
        w2 = (hone_int4_weights*)&failures; /* sentinel: must stay */
        p.group_size = 48;
        CHECK_FAILS(hone_int4_weights_create(&p, src, &w2), HONE_ERROR_INVALID_ARGUMENT,
                    "group_size 48 does not divide K = 64");
        p.group_size = 31;
        CHECK_FAILS(hone_int4_weights_create(&p, src, &w2), HONE_ERROR_INVALID_ARGUMENT,
                    "must be even");
        p.group_size = G;
        CHECK_FAILS(hone_int4_weights_create(&p, x_f16, &w2), HONE_ERROR_DTYPE_MISMATCH,
                    "src must be f32, got f16");
        p.scale_dtype = HONE_DTYPE_I8;
        CHECK_FAILS(hone_int4_weights_create(&p, src, &w2), HONE_ERROR_DTYPE_MISMATCH,
                    "scale_dtype 3 is not HONE_DTYPE_F32 or HONE_DTYPE_F16");
        p.scale_dtype = HONE_DTYPE_F32;
        CHECK_FAILS(hone_int4_weights_create(&p, NULL, &w2), HONE_ERROR_INVALID_ARGUMENT,
                    "'weights' is NULL");
        CHECK_FAILS(hone_int4_weights_create(&p, src, NULL), HONE_ERROR_INVALID_ARGUMENT,
                    "'out' is NULL");
        CHECK_FAILS(hone_int4_weights_create(NULL, src, &w2), HONE_ERROR_INVALID_ARGUMENT,
                    "'params' is NULL");
        p.struct_size = 0;
        CHECK_FAILS(hone_int4_weights_create(&p, src, &w2), HONE_ERROR_INVALID_ARGUMENT,
                    "struct_size is 0");
        CHECK_FAILS(hone_int4_weights_get_params(w, &p), HONE_ERROR_INVALID_ARGUMENT,
                    "struct_size is 0");
        p.struct_size = sizeof p;
        CHECK_FAILS(hone_int4_weights_create_packed(&p, packed, scales_bad, NULL, &w2),
                    HONE_ERROR_SHAPE_MISMATCH, "scales must be [N, K/group_size] = [4, 2]");
        CHECK_FAILS(hone_int4_weights_create_packed(&p, packed_u4, scales, NULL, &w2),
                    HONE_ERROR_INVALID_ARGUMENT, "asymmetric u4 weights need zero points");
        CHECK_FAILS(hone_int4_weights_create_packed(&p, packed, scales, packed_u4, &w2),
                    HONE_ERROR_INVALID_ARGUMENT, "symmetric i4 weights take no zero points");
        CHECK(w2 == (hone_int4_weights*)&failures);
        CHECK_FAILS(hone_int4_weights_params_init(NULL), HONE_ERROR_INVALID_ARGUMENT,
                    "'params' is NULL");
        CHECK_FAILS(hone_int4_weights_nbytes(w, NULL), HONE_ERROR_INVALID_ARGUMENT,
                    "'out' is NULL");
        CHECK_FAILS(hone_int4_weights_shape(NULL, &n, &k), HONE_ERROR_INVALID_ARGUMENT,
                    "'weights' is NULL");
        hone_tensor_destroy(x_bad);
        hone_tensor_destroy(x_f16);
        hone_tensor_destroy(b_bad);
        hone_tensor_destroy(b_i32);
        hone_tensor_destroy(packed_u4);
        hone_tensor_destroy(scales_bad);
    }
    hone_int4_weights_destroy(w);
    hone_tensor_destroy(src);
    hone_tensor_destroy(packed);
    hone_tensor_destroy(scales);
    hone_tensor_destroy(deq);
    hone_tensor_destroy(x);
    hone_tensor_destroy(y);
    hone_tensor_destroy(bias);
    hone_tensor_destroy(xm);
    hone_tensor_destroy(ym);
}

static void test_asymmetric_f16(void) {
    hone_int4_weights_params p;
    hone_int4_weights *w = NULL, *w2 = NULL;
    hone_tensor* src = make(HONE_DTYPE_F32, 2, N, K);
    hone_tensor* packed = make(HONE_DTYPE_U4, 2, N, K);
    hone_tensor* scales = make(HONE_DTYPE_F16, 2, N, K / G);
    hone_tensor* zps = make(HONE_DTYPE_U4, 2, N, K / G);
    hone_tensor* d1 = make(HONE_DTYPE_F32, 2, N, K);
    hone_tensor* d2 = make(HONE_DTYPE_F32, 2, N, K);
    float* wf = (float*)tensor_data(src);
    int i, close = 1;

    for (i = 0; i < N * K; ++i)
        wf[i] = 0.25f * (float)(i % 13) - 1.0f; /* [-1, 2]: zero points != 0 */
    hone_int4_weights_params_init(&p);
    p.group_size = G;
    p.symmetric = 0;
    p.scale_dtype = HONE_DTYPE_F16;
    CHECK(hone_int4_weights_create(&p, src, &w) == HONE_OK);
    hone_int4_weights_params_init(&p);
    CHECK(hone_int4_weights_get_params(w, &p) == HONE_OK);
    CHECK(p.symmetric == 0 && p.scale_dtype == HONE_DTYPE_F16 && p.group_size == G);
    CHECK(hone_int4_weights_export(w, packed, scales, zps) == HONE_OK);
    CHECK_FAILS(hone_int4_weights_export(w, packed, scales, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "'zero_points' is NULL");
    /* lo = -1, hi = 2 in every group → scale 0.2, zero point round(5) = 5. */
    CHECK((((const unsigned char*)tensor_data(zps))[0] & 0x0f) == 5);
    CHECK(hone_int4_weights_create_packed(&p, packed, scales, zps, &w2) == HONE_OK);
    CHECK(hone_int4_weights_dequantize(w, d1) == HONE_OK);
    CHECK(hone_int4_weights_dequantize(w2, d2) == HONE_OK);
    CHECK(memcmp(tensor_data(d1), tensor_data(d2), sizeof(float) * N * K) == 0);
    for (i = 0; i < N * K; ++i)
        close = close && fabsf(((float*)tensor_data(d1))[i] - wf[i]) <= 0.1001f;
    CHECK(close);
    hone_int4_weights_destroy(w);
    hone_int4_weights_destroy(w2);
    hone_int4_weights_destroy(NULL);
    hone_tensor_destroy(src);
    hone_tensor_destroy(packed);
    hone_tensor_destroy(scales);
    hone_tensor_destroy(zps);
    hone_tensor_destroy(d1);
    hone_tensor_destroy(d2);
}

int main(void) {
    test_symmetric();
    test_asymmetric_f16();
    if (failures == 0) printf("C ABI weight-only int4: all checks passed\n");
    return failures ? 1 : 0;
}
