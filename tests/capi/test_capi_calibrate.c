/* Activation calibrators, SmoothQuant and bias correction through the C ABI. */
#include <hone/hone.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static void test_min_max(void) {
    float x[4] = {-1.0f, 0.5f, 2.0f, 3.0f};
    const int64_t four[1] = {4};
    hone_tensor* tx = wrap_tensor(HONE_DTYPE_F32, 1, four, x, sizeof x);
    hone_calibrator_params p;
    hone_calibrator* c = NULL;
    float scale = 0.0f, lo = 0.0f, hi = 0.0f;
    int32_t zp = -1;
    uint8_t zp8 = 0;
    int64_t channels = -1;
    hone_tensor* ts = wrap_tensor(HONE_DTYPE_F32, 0, NULL, &scale, sizeof scale);
    hone_tensor* tz = wrap_tensor(HONE_DTYPE_U8, 0, NULL, &zp8, sizeof zp8);
    hone_tensor* tlo = wrap_tensor(HONE_DTYPE_F32, 0, NULL, &lo, sizeof lo);
    hone_tensor* thi = wrap_tensor(HONE_DTYPE_F32, 0, NULL, &hi, sizeof hi);

    CHECK(hone_calibrator_params_init(&p) == HONE_OK);
    CHECK(p.struct_size == sizeof p && p.method == HONE_CALIB_MIN_MAX && p.bins == 2048 &&
          p.dtype == HONE_DTYPE_U8 && p.percentile == 99.99);
    p.name = "fc2.input";
    CHECK(hone_calibrator_create(&p, &c) == HONE_OK);
    CHECK(hone_calibrator_channels(c, &channels) == HONE_OK && channels == 0);
    /* before any batch */
    CHECK_FAILS(hone_calibrator_qparams(c, &scale, &zp), HONE_ERROR_INVALID_ARGUMENT,
                "hone_calibrator_qparams: fc2.input");
    CHECK(hone_calibrator_observe(c, tx) == HONE_OK);
    CHECK(hone_calibrator_channels(c, &channels) == HONE_OK && channels == 1);
    CHECK(hone_calibrator_qparams(c, &scale, &zp) == HONE_OK);
    CHECK(scale == 4.0f / 255.0f && zp == 64);
    scale = 0.0f;
    CHECK(hone_calibrator_result(c, ts, tz, tlo, thi) == HONE_OK);
    CHECK(scale == 4.0f / 255.0f && zp8 == 64 && lo == -1.0f && hi == 3.0f);
    /* NaN names the tensor; state unchanged */
    x[1] = NAN;
    CHECK_FAILS(hone_calibrator_observe(c, tx), HONE_ERROR_INVALID_ARGUMENT, "fc2.input");
    CHECK(strstr(hone_last_error(), "NaN") != NULL);
    x[1] = 0.5f;
    /* wrong result tensors: untouched */
    scale = 7.0f;
    CHECK_FAILS(hone_calibrator_result(c, ts, tlo, NULL, NULL), HONE_ERROR_DTYPE_MISMATCH,
                "zero_point");
    CHECK(scale == 7.0f);
    CHECK_FAILS(hone_calibrator_result(c, NULL, NULL, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "'scale'");
    /* score is for AUTO */
    CHECK_FAILS(hone_calibrator_score(c, tx), HONE_ERROR_INVALID_ARGUMENT, "auto");
    CHECK_FAILS(hone_calibrator_set_consumer(c, tx, NULL), HONE_ERROR_INVALID_ARGUMENT, "auto");
    hone_calibrator_destroy(c);
    hone_calibrator_destroy(NULL);

    /* bad params */
    hone_calibrator_params_init(&p);
    p.percentile = 0.0;
    CHECK_FAILS(hone_calibrator_create(&p, &c), HONE_ERROR_INVALID_ARGUMENT, "percentile");
    hone_calibrator_params_init(&p);
    p.method = (hone_calib_method)42;
    CHECK_FAILS(hone_calibrator_create(&p, &c), HONE_ERROR_INVALID_ARGUMENT, "method");
    hone_calibrator_params_init(&p);
    p.dtype = HONE_DTYPE_F32;
    CHECK_FAILS(hone_calibrator_create(&p, &c), HONE_ERROR_DTYPE_MISMATCH, "dtype");
    hone_calibrator_params_init(&p);
    p.bins = 100;
    CHECK_FAILS(hone_calibrator_create(&p, &c), HONE_ERROR_INVALID_ARGUMENT, "bins");
    hone_calibrator_params_init(&p);
    p.struct_size = 3;
    CHECK_FAILS(hone_calibrator_create(&p, &c), HONE_ERROR_INVALID_ARGUMENT,
                "hone_calibrator_params");
    CHECK_FAILS(hone_calibrator_create(NULL, NULL), HONE_ERROR_INVALID_ARGUMENT, "'out'");
    CHECK_FAILS(hone_calibrator_observe(NULL, tx), HONE_ERROR_INVALID_ARGUMENT, "calibrator");

    hone_tensor_destroy(tx);
    hone_tensor_destroy(ts);
    hone_tensor_destroy(tz);
    hone_tensor_destroy(tlo);
    hone_tensor_destroy(thi);
}

static void test_per_channel_and_auto(void) {
    /* [3, 2]: columns {0, 1, 2} and {-4, 4, 1} */
    float x[6] = {0.0f, -4.0f, 1.0f, 4.0f, 2.0f, 1.0f};
    const int64_t dims[2] = {3, 2}, two[1] = {2}, wdims[2] = {1, 2};
    float scale[2] = {0}, lo[2] = {0}, hi[2] = {0}, w[2] = {1.0f, -1.0f}, s = 0.0f;
    int8_t zp[2] = {1, 1};
    int32_t zp32 = 0;
    hone_tensor* tx = wrap_tensor(HONE_DTYPE_F32, 2, dims, x, sizeof x);
    hone_tensor* ts = wrap_tensor(HONE_DTYPE_F32, 1, two, scale, sizeof scale);
    hone_tensor* tz = wrap_tensor(HONE_DTYPE_I8, 1, two, zp, sizeof zp);
    hone_tensor* tlo = wrap_tensor(HONE_DTYPE_F32, 1, two, lo, sizeof lo);
    hone_tensor* thi = wrap_tensor(HONE_DTYPE_F32, 1, two, hi, sizeof hi);
    hone_tensor* tw = wrap_tensor(HONE_DTYPE_F32, 2, wdims, w, sizeof w);
    hone_calibrator_params p;
    hone_calibrator* c = NULL;
    int64_t channels = 0;

    hone_calibrator_params_init(&p);
    p.granularity = HONE_GRANULARITY_PER_CHANNEL;
    p.axis = 1;
    p.dtype = HONE_DTYPE_I8;
    p.scheme = HONE_QUANT_SYMMETRIC;
    p.method = HONE_CALIB_PERCENTILE;
    p.percentile = 100.0;
    CHECK(hone_calibrator_create(&p, &c) == HONE_OK);
    CHECK(hone_calibrator_observe(c, tx) == HONE_OK);
    CHECK(hone_calibrator_channels(c, &channels) == HONE_OK && channels == 2);
    CHECK(hone_calibrator_result(c, ts, tz, tlo, thi) == HONE_OK);
    CHECK(hi[0] == 2.0f && hi[1] == 4.0f && lo[1] == -4.0f);
    CHECK(scale[0] == 2.0f / 127.0f && scale[1] == 4.0f / 127.0f && zp[0] == 0 && zp[1] == 0);
    hone_calibrator_destroy(c);

    /* bad axis */
    p.axis = 5;
    CHECK(hone_calibrator_create(&p, &c) == HONE_OK);
    CHECK_FAILS(hone_calibrator_observe(c, tx), HONE_ERROR_INVALID_ARGUMENT, "axis 5");
    hone_calibrator_destroy(c);

    /* auto with a consumer: observe, score, result */
    hone_calibrator_params_init(&p);
    p.method = HONE_CALIB_AUTO;
    CHECK(hone_calibrator_create(&p, &c) == HONE_OK);
    CHECK(hone_calibrator_set_consumer(c, tw, NULL) == HONE_OK);
    CHECK(hone_calibrator_observe(c, tx) == HONE_OK);
    CHECK_FAILS(hone_calibrator_qparams(c, &s, &zp32), HONE_ERROR_INVALID_ARGUMENT, "score");
    CHECK(hone_calibrator_score(c, tx) == HONE_OK);
    CHECK(hone_calibrator_qparams(c, &s, &zp32) == HONE_OK);
    CHECK(s > 0.0f && zp32 >= 0 && zp32 <= 255);
    CHECK_FAILS(hone_calibrator_observe(c, tx), HONE_ERROR_INVALID_ARGUMENT, "frozen");
    hone_calibrator_destroy(c);

    hone_tensor_destroy(tx);
    hone_tensor_destroy(ts);
    hone_tensor_destroy(tz);
    hone_tensor_destroy(tlo);
    hone_tensor_destroy(thi);
    hone_tensor_destroy(tw);
}

static void test_smooth_quant(void) {
    /* W [2, 2] with column abs-max {1, 4}; x [2, 2] with column abs-max {4, 1} */
    float w[4] = {1.0f, -4.0f, 0.5f, 2.0f}, x[4] = {4.0f, 1.0f, -2.0f, 0.5f};
    float sc[2] = {0}, ws[4] = {0}, alpha = -1.0f, grid[1] = {0.5f};
    double before = -1.0, after = -1.0;
    const int64_t d22[2] = {2, 2}, two[1] = {2}, d23[2] = {2, 3};
    hone_tensor* tw = wrap_tensor(HONE_DTYPE_F32, 2, d22, w, sizeof w);
    hone_tensor* tx = wrap_tensor(HONE_DTYPE_F32, 2, d22, x, sizeof x);
    hone_tensor* ts = wrap_tensor(HONE_DTYPE_F32, 1, two, sc, sizeof sc);
    hone_tensor* tws = wrap_tensor(HONE_DTYPE_F32, 2, d22, ws, sizeof ws);
    float bad[6] = {0};
    hone_tensor* tbad = wrap_tensor(HONE_DTYPE_F32, 2, d23, bad, sizeof bad);
    hone_smooth_quant_params p;
    hone_smooth_quant* sq = NULL;

    CHECK(hone_smooth_quant_params_init(&p) == HONE_OK);
    CHECK(p.alphas == NULL && p.act_dtype == HONE_DTYPE_U8);
    p.alphas = grid;
    p.alpha_count = 1;
    p.name = "fc";
    CHECK(hone_smooth_quant_create(tw, &p, &sq) == HONE_OK);
    CHECK_FAILS(hone_smooth_quant_result(sq, &alpha, NULL, NULL, NULL, NULL),
                HONE_ERROR_INVALID_ARGUMENT, "score");
    CHECK(hone_smooth_quant_observe(sq, tx) == HONE_OK);
    CHECK_FAILS(hone_smooth_quant_observe(sq, tbad), HONE_ERROR_SHAPE_MISMATCH, "fc");
    CHECK(hone_smooth_quant_score(sq, tx) == HONE_OK);
    CHECK(hone_smooth_quant_result(sq, &alpha, ts, tws, &before, &after) == HONE_OK);
    CHECK(alpha == 0.5f);
    CHECK(fabsf(sc[0] - 2.0f) < 1e-6f && fabsf(sc[1] - 0.5f) < 1e-6f);
    CHECK(fabsf(ws[0] - 2.0f) < 1e-6f && fabsf(ws[1] + 2.0f) < 1e-6f); /* W·s */
    CHECK(before >= 0.0 && after >= 0.0);
    CHECK_FAILS(hone_smooth_quant_result(sq, NULL, NULL, tbad, NULL, NULL),
                HONE_ERROR_SHAPE_MISMATCH, "weights");
    hone_smooth_quant_destroy(sq);
    hone_smooth_quant_destroy(NULL);
    grid[0] = 2.0f;
    CHECK_FAILS(hone_smooth_quant_create(tw, &p, &sq), HONE_ERROR_INVALID_ARGUMENT, "[0, 1]");
    CHECK_FAILS(hone_smooth_quant_create(NULL, NULL, &sq), HONE_ERROR_INVALID_ARGUMENT, "weights");

    hone_tensor_destroy(tw);
    hone_tensor_destroy(tx);
    hone_tensor_destroy(ts);
    hone_tensor_destroy(tws);
    hone_tensor_destroy(tbad);
}

static void test_bias_correction(void) {
    float w[2] = {1.0f, 2.0f}, wq[2] = {1.0f, 1.0f}, b[1] = {0.5f}, mx[2] = {1.0f, 3.0f},
          mq[2] = {1.0f, 2.5f}, out[1] = {0.0f}, nan_mean[2] = {1.0f, NAN};
    const int64_t d12[2] = {1, 2}, one[1] = {1}, two[1] = {2};
    hone_tensor* tw = wrap_tensor(HONE_DTYPE_F32, 2, d12, w, sizeof w);
    hone_tensor* twq = wrap_tensor(HONE_DTYPE_F32, 2, d12, wq, sizeof wq);
    hone_tensor* tb = wrap_tensor(HONE_DTYPE_F32, 1, one, b, sizeof b);
    hone_tensor* tmx = wrap_tensor(HONE_DTYPE_F32, 1, two, mx, sizeof mx);
    hone_tensor* tmq = wrap_tensor(HONE_DTYPE_F32, 1, two, mq, sizeof mq);
    hone_tensor* tout = wrap_tensor(HONE_DTYPE_F32, 1, one, out, sizeof out);
    hone_tensor* tnan = wrap_tensor(HONE_DTYPE_F32, 1, two, nan_mean, sizeof nan_mean);

    CHECK(hone_bias_correction(tw, twq, tb, tmx, NULL, tout) == HONE_OK);
    CHECK(out[0] == 3.5f);
    CHECK(hone_bias_correction(tw, twq, NULL, tmx, tmq, tout) == HONE_OK);
    CHECK(out[0] == 3.5f);
    out[0] = 9.0f;
    CHECK_FAILS(hone_bias_correction(tw, twq, tb, tb, NULL, tout), HONE_ERROR_SHAPE_MISMATCH,
                "mean_x");
    CHECK_FAILS(hone_bias_correction(tw, twq, tb, tnan, NULL, tout), HONE_ERROR_INVALID_ARGUMENT,
                "NaN");
    CHECK_FAILS(hone_bias_correction(tw, twq, tb, tmx, NULL, tmx), HONE_ERROR_SHAPE_MISMATCH,
                "bias_out");
    CHECK(out[0] == 9.0f);
    /* in place */
    CHECK(hone_bias_correction(tw, twq, tb, tmx, NULL, tb) == HONE_OK);
    CHECK(b[0] == 3.5f);

    hone_tensor_destroy(tw);
    hone_tensor_destroy(twq);
    hone_tensor_destroy(tb);
    hone_tensor_destroy(tmx);
    hone_tensor_destroy(tmq);
    hone_tensor_destroy(tout);
    hone_tensor_destroy(tnan);
}

int main(void) {
    test_min_max();
    test_per_channel_and_auto();
    test_smooth_quant();
    test_bias_correction();
    if (failures == 0) printf("test_capi_calibrate: all checks passed\n");
    return failures ? 1 : 0;
}
