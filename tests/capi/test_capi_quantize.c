/* Quantize, dequantize, reductions and scale / zero-point choice through the C ABI. */
#include <hone/hone.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static void test_reductions(void) {
    /* a 2×4 matrix */
    float m[8] = {1.0f, -2.0f, 3.0f, 0.5f, -4.0f, 6.0f, -0.0f, 2.0f};
    const int64_t dims[2] = {2, 4}, two[1] = {2}, four[1] = {4}, groups[2] = {2, 2};
    float lo2[2], hi2[2], lo4[4], hi4[4], a2[2], g[4], one_lo = 0.0f, one_hi = 0.0f;
    hone_tensor* src = wrap_tensor(HONE_DTYPE_F32, 2, dims, m, sizeof m);
    hone_tensor* tlo2 = wrap_tensor(HONE_DTYPE_F32, 1, two, lo2, sizeof lo2);
    hone_tensor* thi2 = wrap_tensor(HONE_DTYPE_F32, 1, two, hi2, sizeof hi2);
    hone_tensor* tlo4 = wrap_tensor(HONE_DTYPE_F32, 1, four, lo4, sizeof lo4);
    hone_tensor* thi4 = wrap_tensor(HONE_DTYPE_F32, 1, four, hi4, sizeof hi4);
    hone_tensor* ta2 = wrap_tensor(HONE_DTYPE_F32, 1, two, a2, sizeof a2);
    hone_tensor* tg = wrap_tensor(HONE_DTYPE_F32, 2, groups, g, sizeof g);
    hone_tensor* tone_lo = wrap_tensor(HONE_DTYPE_F32, 0, NULL, &one_lo, sizeof one_lo);
    hone_tensor* tone_hi = wrap_tensor(HONE_DTYPE_F32, 0, NULL, &one_hi, sizeof one_hi);
    hone_reduce_params rp;
    int64_t out_dims[HONE_MAX_RANK];
    size_t out_rank = 99;

    CHECK(hone_reduce_params_init(&rp) == HONE_OK);
    CHECK(rp.struct_size == sizeof rp && rp.granularity == HONE_GRANULARITY_PER_TENSOR);
    /* per tensor (params NULL) */
    CHECK(hone_min_max(src, NULL, tone_lo, tone_hi) == HONE_OK);
    CHECK(one_lo == -4.0f && one_hi == 6.0f);
    /* per row */
    rp.granularity = HONE_GRANULARITY_PER_CHANNEL;
    rp.axis = 0;
    CHECK(hone_min_max(src, &rp, tlo2, thi2) == HONE_OK);
    CHECK(lo2[0] == -2.0f && hi2[0] == 3.0f && lo2[1] == -4.0f && hi2[1] == 6.0f);
    CHECK(hone_abs_max(src, &rp, ta2) == HONE_OK);
    CHECK(a2[0] == 3.0f && a2[1] == 6.0f);
    /* per column (axis -1) */
    rp.axis = -1;
    CHECK(hone_min_max(src, &rp, tlo4, thi4) == HONE_OK);
    CHECK(lo4[0] == -4.0f && hi4[1] == 6.0f && lo4[2] == -0.0f && signbit(lo4[2]) &&
          hi4[2] == 3.0f);
    /* groups of 2 along rows */
    rp.granularity = HONE_GRANULARITY_PER_GROUP;
    rp.axis = 1;
    rp.group_size = 2;
    CHECK(hone_reduced_shape(dims, 2, &rp, out_dims, HONE_MAX_RANK, &out_rank) == HONE_OK);
    CHECK(out_rank == 2 && out_dims[0] == 2 && out_dims[1] == 2);
    CHECK(hone_abs_max(src, &rp, tg) == HONE_OK);
    CHECK(g[0] == 2.0f && g[1] == 3.0f && g[2] == 6.0f && g[3] == 2.0f);
    /* NaN poisons its row */
    m[5] = NAN;
    rp.granularity = HONE_GRANULARITY_PER_CHANNEL;
    rp.axis = 0;
    CHECK(hone_min_max(src, &rp, tlo2, thi2) == HONE_OK);
    CHECK(lo2[0] == -2.0f && isnan(lo2[1]) && isnan(hi2[1]));
    m[5] = 6.0f;

    /* errors: outputs untouched */
    lo2[0] = 42.0f;
    rp.granularity = HONE_GRANULARITY_PER_GROUP;
    rp.group_size = 3;
    CHECK(hone_min_max(src, &rp, tlo2, thi2) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "hone_min_max") != NULL);
    CHECK(strstr(hone_last_error(), "group size 3 does not divide dimension 2") != NULL);
    CHECK(lo2[0] == 42.0f);
    rp.granularity = HONE_GRANULARITY_PER_CHANNEL;
    rp.axis = 2;
    CHECK(hone_abs_max(src, &rp, ta2) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "axis 2 is out of range") != NULL);
    rp.axis = 1;
    CHECK(hone_abs_max(src, &rp, ta2) == HONE_ERROR_SHAPE_MISMATCH);
    CHECK(strstr(hone_last_error(), "expected [4]") != NULL);
    rp.granularity = (hone_granularity)7;
    CHECK(hone_abs_max(src, &rp, ta2) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "7 is not a hone_granularity") != NULL);
    hone_reduce_params_init(&rp);
    rp.struct_size = 4;
    CHECK(hone_abs_max(src, &rp, tone_lo) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_abs_max(NULL, NULL, tone_lo) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "'src' is NULL") != NULL);
    CHECK(hone_min_max(src, NULL, tone_lo, NULL) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_abs_max(tg, NULL, src) == HONE_ERROR_SHAPE_MISMATCH);
    out_rank = 99;
    hone_reduce_params_init(&rp);
    rp.granularity = HONE_GRANULARITY_PER_GROUP;
    rp.axis = 1;
    rp.group_size = 2;
    CHECK(hone_reduced_shape(dims, 2, &rp, out_dims, 1, &out_rank) == HONE_ERROR_OUT_OF_RANGE);
    CHECK(out_rank == 99);
    CHECK(hone_reduced_shape(dims, 2, &rp, out_dims, HONE_MAX_RANK, NULL) ==
          HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_reduce_params_init(NULL) == HONE_ERROR_INVALID_ARGUMENT);

    hone_tensor_destroy(src);
    hone_tensor_destroy(tlo2);
    hone_tensor_destroy(thi2);
    hone_tensor_destroy(tlo4);
    hone_tensor_destroy(thi4);
    hone_tensor_destroy(ta2);
    hone_tensor_destroy(tg);
    hone_tensor_destroy(tone_lo);
    hone_tensor_destroy(tone_hi);
}

static void test_quantize(void) {
    /* per axis 0 of a 2×5 matrix, u8 with zero points: row 0 scale 1 zp 10, row 1 scale 0.5 zp 0 */
    float x[10] = {0.5f, 1.5f, 2.5f, -0.5f, 300.0f, 1.0f, -1.0f, 0.25f, 0.75f, NAN};
    const int64_t dims[2] = {2, 5}, two[1] = {2}, blocks[2] = {2, 1};
    float scale[2] = {1.0f, 0.5f}, back[10];
    uint8_t zp[2] = {10, 0}, q[10];
    uint8_t packed[5];
    int8_t zp4_storage[1] = {0};
    hone_tensor* tx = wrap_tensor(HONE_DTYPE_F32, 2, dims, x, sizeof x);
    hone_tensor* ts = wrap_tensor(HONE_DTYPE_F32, 1, two, scale, sizeof scale);
    hone_tensor* tz = wrap_tensor(HONE_DTYPE_U8, 1, two, zp, sizeof zp);
    hone_tensor* tq = wrap_tensor(HONE_DTYPE_U8, 2, dims, q, sizeof q);
    hone_tensor* tback = wrap_tensor(HONE_DTYPE_F32, 2, dims, back, sizeof back);
    hone_tensor* tq4 = wrap_tensor(HONE_DTYPE_I4, 2, dims, packed, sizeof packed);
    hone_tensor* tsb = wrap_tensor(HONE_DTYPE_F32, 2, blocks, scale, sizeof scale);
    hone_tensor* tz4 = wrap_tensor(HONE_DTYPE_I4, 2, blocks, zp4_storage, 1);
    hone_quantize_params qp;
    const uint8_t expect[10] = {10, 12, 12, 10, 255, 2, 0, 0, 2, 0};
    int i;

    CHECK(hone_quantize_params_init(&qp) == HONE_OK);
    CHECK(qp.struct_size == sizeof qp && qp.axis == 1 && qp.block_size == 0);
    qp.axis = 0;
    CHECK(hone_quantize_linear(tx, ts, tz, &qp, tq) == HONE_OK);
    for (i = 0; i < 10; ++i)
        CHECK(q[i] == expect[i]);
    CHECK(hone_dequantize_linear(tq, ts, tz, &qp, tback) == HONE_OK);
    CHECK(back[0] == 0.0f && back[1] == 2.0f && back[4] == 245.0f && back[5] == 1.0f &&
          back[9] == 0.0f);

    /* blocked int4: block_size 5 along axis 1 → scale [2, 1]; no zero point */
    qp.axis = 1;
    qp.block_size = 5;
    CHECK(hone_quantize_linear(tx, tsb, NULL, &qp, tq4) == HONE_OK);
    CHECK(packed[0] == 0x20); /* 0 (0.5 → 0), 2 (1.5 → 2) */
    CHECK(packed[1] == 0x02); /* 2 (2.5 → 2), 0 (-0.5 → -0) */
    CHECK(packed[2] == 0x27); /* 7 (300 saturates), 2 (1.0 / 0.5) */
    CHECK(packed[3] == 0x0E); /* -2 (-1 / 0.5), 0 (0.25 / 0.5 = 0.5 → 0) */
    /* dequantize with zero points 0 (block row 0) and 1 (block row 1), packed in one byte */
    zp4_storage[0] = 0x10;
    CHECK(hone_dequantize_linear(tq4, tsb, tz4, &qp, tback) == HONE_OK);
    CHECK(back[0] == 0.0f && back[4] == 7.0f && back[6] == -1.5f && back[7] == -0.5f);

    /* errors leave y untouched */
    memset(q, 0x55, sizeof q);
    qp.axis = 0;
    qp.block_size = 0;
    scale[1] = 0.0f;
    CHECK(hone_quantize_linear(tx, ts, tz, &qp, tq) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strcmp(hone_last_error(), "hone_quantize_linear: scale[1] = 0 must be finite and > 0") ==
          0);
    CHECK(q[0] == 0x55);
    scale[1] = 0.5f;
    qp.axis = 1; /* scale of length 2 does not match dims[1] = 5 */
    CHECK(hone_quantize_linear(tx, ts, tz, &qp, tq) == HONE_ERROR_SHAPE_MISMATCH);
    qp.axis = 5;
    CHECK(hone_quantize_linear(tx, ts, tz, &qp, tq) == HONE_ERROR_INVALID_ARGUMENT);
    qp.axis = 0;
    CHECK(hone_quantize_linear(tx, ts, tz, &qp, tq4) == HONE_ERROR_DTYPE_MISMATCH);
    CHECK(strstr(hone_last_error(), "zero point is u8, must be i4") != NULL);
    CHECK(hone_quantize_linear(tx, ts, tz, &qp, tx) == HONE_ERROR_DTYPE_MISMATCH);
    CHECK(hone_dequantize_linear(tx, ts, tz, &qp, tback) == HONE_ERROR_DTYPE_MISMATCH);
    qp.axis = 1;
    qp.block_size = 3;
    CHECK(hone_quantize_linear(tx, tsb, NULL, &qp, tq4) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "does not divide") != NULL);
    CHECK(hone_quantize_linear(tx, NULL, NULL, &qp, tq) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "'scale' is NULL") != NULL);
    qp.struct_size = 1;
    CHECK(hone_dequantize_linear(tq, ts, tz, &qp, tback) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_quantize_params_init(NULL) == HONE_ERROR_INVALID_ARGUMENT);

    hone_tensor_destroy(tx);
    hone_tensor_destroy(ts);
    hone_tensor_destroy(tz);
    hone_tensor_destroy(tq);
    hone_tensor_destroy(tback);
    hone_tensor_destroy(tq4);
    hone_tensor_destroy(tsb);
    hone_tensor_destroy(tz4);
}

static void test_choose(void) {
    float scale = -1.0f, lo[2] = {-3.0f, -1.0f}, hi[2] = {2.0f, 1.0f}, s[2];
    int32_t zp = -1;
    uint8_t z[2];
    const int64_t two[1] = {2};
    hone_tensor *tlo, *thi, *ts, *tz;

    /* ONNX DynamicQuantizeLinear: [-3, 2] → scale 5/255, zero point 153 */
    CHECK(hone_choose_qparams(-3.0f, 2.0f, HONE_DTYPE_U8, HONE_QUANT_AFFINE, &scale, &zp) ==
          HONE_OK);
    CHECK(fabsf(scale - 0.019607844f) < 1e-9f && zp == 153);
    CHECK(hone_choose_qparams(-1.27f, 0.5f, HONE_DTYPE_I8, HONE_QUANT_SYMMETRIC, &scale, &zp) ==
          HONE_OK);
    CHECK(scale == 1.27f / 127.0f && zp == 0);
    CHECK(hone_choose_qparams(0.0f, 14.0f, HONE_DTYPE_U4, HONE_QUANT_SYMMETRIC, &scale, &zp) ==
          HONE_OK);
    CHECK(scale == 2.0f && zp == 8);
    scale = -1.0f;
    zp = -1;
    CHECK(hone_choose_qparams(NAN, 1.0f, HONE_DTYPE_I8, HONE_QUANT_AFFINE, &scale, &zp) ==
          HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "hone_choose_qparams") != NULL);
    CHECK(scale == -1.0f && zp == -1);
    CHECK(hone_choose_qparams(0.0f, 1.0f, HONE_DTYPE_F32, HONE_QUANT_AFFINE, &scale, &zp) ==
          HONE_ERROR_DTYPE_MISMATCH);
    CHECK(hone_choose_qparams(0.0f, 1.0f, HONE_DTYPE_I8, (hone_quant_scheme)9, &scale, &zp) ==
          HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_choose_qparams(0.0f, 1.0f, HONE_DTYPE_I8, HONE_QUANT_AFFINE, NULL, &zp) ==
          HONE_ERROR_INVALID_ARGUMENT);

    tlo = wrap_tensor(HONE_DTYPE_F32, 1, two, lo, sizeof lo);
    thi = wrap_tensor(HONE_DTYPE_F32, 1, two, hi, sizeof hi);
    ts = wrap_tensor(HONE_DTYPE_F32, 1, two, s, sizeof s);
    tz = wrap_tensor(HONE_DTYPE_U8, 1, two, z, sizeof z);
    CHECK(hone_choose_qparams_tensor(tlo, thi, HONE_DTYPE_U8, HONE_QUANT_AFFINE, ts, tz) ==
          HONE_OK);
    /* [-1, 1]: 0 - (-1) / (2/255 rounded up in f32) = 127.499992 → 127 */
    CHECK(z[0] == 153 && s[1] == 2.0f / 255.0f && z[1] == 127);
    CHECK(hone_choose_qparams_tensor(tlo, thi, HONE_DTYPE_I8, HONE_QUANT_AFFINE, ts, tz) ==
          HONE_ERROR_DTYPE_MISMATCH);
    s[0] = 9.0f;
    hi[1] = -2.0f; /* min > max */
    CHECK(hone_choose_qparams_tensor(tlo, thi, HONE_DTYPE_U8, HONE_QUANT_AFFINE, ts, tz) ==
          HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "(element 1)") != NULL);
    CHECK(s[0] == 9.0f);
    hone_tensor_destroy(tlo);
    hone_tensor_destroy(thi);
    hone_tensor_destroy(ts);
    hone_tensor_destroy(tz);
}

int main(void) {
    test_reductions();
    test_quantize();
    test_choose();
    if (failures == 0) printf("C ABI quantize and reductions: all checks passed\n");
    return failures ? 1 : 0;
}
