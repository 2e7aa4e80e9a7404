/* GEMM, Hessian, linear layers and convolution through the C ABI, including error paths. */
#include <hone/hone.h>
#include <stddef.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static int close_to(float a, float b, float tol) { return fabsf(a - b) <= tol; }

static void test_matmul(void) {
    /* a [2,3], b [3,2] (K_BY_N) and its transpose [2,3] (N_BY_K). */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, bt[6] = {1, 0, 1, 0, 1, 1};
    float bias[2] = {10, 20}, c[4] = {0};
    const int64_t da[2] = {2, 3}, db[2] = {3, 2}, dbt[2] = {2, 3}, dc[2] = {2, 2}, dbias[1] = {2};
    hone_tensor* ta = wrap_tensor(HONE_DTYPE_F32, 2, da, a, sizeof a);
    hone_tensor* tb = wrap_tensor(HONE_DTYPE_F32, 2, db, b, sizeof b);
    hone_tensor* tbt = wrap_tensor(HONE_DTYPE_F32, 2, dbt, bt, sizeof bt);
    hone_tensor* tc = wrap_tensor(HONE_DTYPE_F32, 2, dc, c, sizeof c);
    hone_tensor* tbias = wrap_tensor(HONE_DTYPE_F32, 1, dbias, bias, sizeof bias);
    /* [1+3, 2+3; 4+6, 5+6] + bias */
    CHECK(hone_matmul(HONE_GEMM_F32, ta, tb, HONE_WEIGHTS_K_BY_N, tbias, tc) == HONE_OK);
    CHECK(c[0] == 14 && c[1] == 25 && c[2] == 20 && c[3] == 31);
    memset(c, 0, sizeof c);
    CHECK(hone_matmul(HONE_GEMM_BF16, ta, tbt, HONE_WEIGHTS_N_BY_K, NULL, tc) == HONE_OK);
    CHECK(c[0] == 4 && c[1] == 5 && c[2] == 10 && c[3] == 11); /* small integers: exact in bf16 */
    /* errors: K mismatch, int8, bad layout, wrong bias, NULL; c untouched */
    CHECK(hone_matmul(HONE_GEMM_F32, ta, tbt, HONE_WEIGHTS_K_BY_N, NULL, tc) ==
          HONE_ERROR_SHAPE_MISMATCH);
    CHECK(strstr(hone_last_error(), "K differs") != NULL);
    CHECK(hone_matmul(HONE_GEMM_INT8, ta, tb, HONE_WEIGHTS_K_BY_N, NULL, tc) ==
          HONE_ERROR_UNSUPPORTED);
    CHECK(hone_matmul(HONE_GEMM_F32, ta, tb, (hone_weight_layout)5, NULL, tc) ==
          HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_matmul(HONE_GEMM_F32, ta, tb, HONE_WEIGHTS_K_BY_N, ta, tc) ==
          HONE_ERROR_SHAPE_MISMATCH);
    CHECK(hone_matmul(HONE_GEMM_F32, NULL, tb, HONE_WEIGHTS_K_BY_N, NULL, tc) ==
          HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "'a' is NULL") != NULL);
    CHECK(c[0] == 4 && c[3] == 11);

    /* Hessian: h += x^T x, x = a [2,3] */
    {
        float h[9] = {0};
        const int64_t dh[2] = {3, 3};
        hone_tensor* th = wrap_tensor(HONE_DTYPE_F32, 2, dh, h, sizeof h);
        CHECK(hone_hessian_accumulate(ta, th) == HONE_OK);
        CHECK(h[0] == 17 && h[1] == 22 && h[4] == 29 && h[8] == 45 && h[3] == 22);
        CHECK(hone_hessian_accumulate(ta, tc) == HONE_ERROR_SHAPE_MISMATCH);
        CHECK(hone_hessian_accumulate(NULL, th) == HONE_ERROR_INVALID_ARGUMENT);
        CHECK(h[0] == 17);
        hone_tensor_destroy(th);
    }
    hone_tensor_destroy(ta);
    hone_tensor_destroy(tb);
    hone_tensor_destroy(tbt);
    hone_tensor_destroy(tc);
    hone_tensor_destroy(tbias);
}

static void test_linear(void) {
    enum { M = 3, K = 8, N = 4 };
    float w[N * K], x[M * K], y[M * N], ref[M * N], bias[N] = {0.5f, -1, 0, 2};
    int i, j, k;
    const int64_t dw[2] = {N, K}, dx[2] = {M, K}, dy[2] = {M, N}, dbias[1] = {N}, ds[1] = {N};
    hone_linear_params p;
    hone_linear* layer = NULL;
    hone_linear* untouched = (hone_linear*)&p; /* sentinel: must stay as is on failure */
    hone_tensor *tw, *tx, *ty, *tbias;
    for (i = 0; i < N * K; ++i)
        w[i] = (float)((i * 7) % 11 - 5) * 0.1f;
    for (i = 0; i < M * K; ++i)
        x[i] = (float)((i * 5) % 13 - 6) * 0.2f;
    for (i = 0; i < M; ++i)
        for (j = 0; j < N; ++j) {
            double s = bias[j];
            for (k = 0; k < K; ++k)
                s += (double)x[i * K + k] * w[j * K + k];
            ref[i * N + j] = (float)s;
        }
    tw = wrap_tensor(HONE_DTYPE_F32, 2, dw, w, sizeof w);
    tx = wrap_tensor(HONE_DTYPE_F32, 2, dx, x, sizeof x);
    ty = wrap_tensor(HONE_DTYPE_F32, 2, dy, y, sizeof y);
    tbias = wrap_tensor(HONE_DTYPE_F32, 1, dbias, bias, sizeof bias);

    CHECK(hone_linear_params_init(&p) == HONE_OK);
    CHECK(p.struct_size == sizeof p && p.type == HONE_GEMM_F32 && p.exact == 1 &&
          p.reduce_range == 0 && p.layout == HONE_WEIGHTS_N_BY_K &&
          p.activations == HONE_ACT_DYNAMIC_PER_TENSOR);
    p.k = K;
    p.n = N;
    { /* the weights' shape must match the layout, not only their element count */
        hone_linear* wrong = NULL;
        p.layout = HONE_WEIGHTS_K_BY_N;
        CHECK(hone_linear_create(&p, tw, NULL, tbias, &wrong) == HONE_ERROR_SHAPE_MISMATCH);
        CHECK(strstr(hone_last_error(), "'weights' has shape") != NULL);
        CHECK(wrong == NULL);
        p.layout = HONE_WEIGHTS_N_BY_K;
    }
    CHECK(hone_linear_create(&p, tw, NULL, tbias, &layer) == HONE_OK);
    CHECK(hone_linear_run(layer, tx, ty) == HONE_OK);
    for (i = 0; i < M * N; ++i)
        CHECK(close_to(y[i], ref[i], 1e-5f));
    hone_linear_destroy(layer);

    /* int8, dynamic per row, ReLU: close to the f32 result (quantization error only). */
    p.type = HONE_GEMM_INT8;
    p.activations = HONE_ACT_DYNAMIC_PER_ROW;
    p.relu = 1;
    layer = NULL;
    CHECK(hone_linear_create(&p, tw, NULL, tbias, &layer) == HONE_OK);
    CHECK(hone_linear_run(layer, tx, ty) == HONE_OK);
    for (i = 0; i < M * N; ++i)
        CHECK(close_to(y[i], ref[i] > 0 ? ref[i] : 0, 0.05f));
    hone_linear_destroy(layer);

    /* reduce_range: 7-bit activations, still close to the f32 result; a caller built before
     * the field (struct_size without it) is accepted and gets the default. */
    p.reduce_range = 1;
    layer = NULL;
    CHECK(hone_linear_create(&p, tw, NULL, tbias, &layer) == HONE_OK);
    CHECK(hone_linear_run(layer, tx, ty) == HONE_OK);
    for (i = 0; i < M * N; ++i)
        CHECK(close_to(y[i], ref[i] > 0 ? ref[i] : 0, 0.1f));
    hone_linear_destroy(layer);
    p.activations = HONE_ACT_STATIC_PER_TENSOR;
    p.act_scale = 0.05f;
    p.act_zero_point = 200; /* beyond 127: rejected with reduce_range... */
    CHECK(hone_linear_create(&p, tw, NULL, tbias, &untouched) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "reduce_range") != NULL);
    p.struct_size = offsetof(hone_linear_params, reduce_range); /* ...field not there: ignored */
    layer = NULL;
    CHECK(hone_linear_create(&p, tw, NULL, tbias, &layer) == HONE_OK);
    hone_linear_destroy(layer);
    p.struct_size = sizeof p;
    p.reduce_range = 0;
    p.activations = HONE_ACT_DYNAMIC_PER_ROW;
    p.act_scale = 1.0f;
    p.act_zero_point = 0;

    /* int8 from s8 weights and scales, static activations from u8 input: exact integers. */
    {
        int8_t q[N * K];
        float scales[N] = {0.5f, 0.25f, 1, 2};
        uint8_t xq[M * K];
        hone_tensor *tq, *ts, *txq;
        for (i = 0; i < N * K; ++i)
            q[i] = (int8_t)(i % 2 ? 127 : -128);
        for (i = 0; i < M * K; ++i)
            xq[i] = (uint8_t)(i % 3 ? 255 : 3);
        tq = wrap_tensor(HONE_DTYPE_I8, 2, dw, q, sizeof q);
        ts = wrap_tensor(HONE_DTYPE_F32, 1, ds, scales, sizeof scales);
        txq = wrap_tensor(HONE_DTYPE_U8, 2, dx, xq, sizeof xq);
        p.activations = HONE_ACT_STATIC_PER_TENSOR;
        p.act_scale = 0.5f;
        p.act_zero_point = 3;
        p.relu = 0;
        layer = NULL;
        CHECK(hone_linear_create(&p, tq, ts, NULL, &layer) == HONE_OK);
        CHECK(hone_linear_run(layer, txq, ty) == HONE_OK);
        for (i = 0; i < M; ++i)
            for (j = 0; j < N; ++j) {
                long acc = 0;
                for (k = 0; k < K; ++k)
                    acc += ((long)xq[i * K + k] - 3) * q[j * K + k];
                CHECK(close_to(y[i * N + j], 0.5f * scales[j] * (float)acc, 1e-3f));
            }
        /* errors: i8 weights without scales; f32 weights with scales; wrong src dtype */
        CHECK(hone_linear_create(&p, tq, NULL, NULL, &untouched) == HONE_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(hone_last_error(), "weight_scales") != NULL);
        CHECK(hone_linear_create(&p, tw, ts, NULL, &untouched) == HONE_ERROR_INVALID_ARGUMENT);
        CHECK(hone_linear_run(layer, tq, ty) == HONE_ERROR_DTYPE_MISMATCH);
        CHECK(untouched == (hone_linear*)&p);
        hone_linear_destroy(layer);
        hone_tensor_destroy(tq);
        hone_tensor_destroy(ts);
        hone_tensor_destroy(txq);
    }

    /* more errors */
    p.type = HONE_GEMM_F32;
    p.k = K + 1;
    CHECK(hone_linear_create(&p, tw, NULL, NULL, &untouched) == HONE_ERROR_SHAPE_MISMATCH);
    CHECK(strstr(hone_last_error(), "hone_linear_create") != NULL);
    p.k = K;
    p.type = (hone_gemm_type)9;
    CHECK(hone_linear_create(&p, tw, NULL, NULL, &untouched) == HONE_ERROR_INVALID_ARGUMENT);
    p.type = HONE_GEMM_F32;
    p.struct_size = 4;
    CHECK(hone_linear_create(&p, tw, NULL, NULL, &untouched) == HONE_ERROR_INVALID_ARGUMENT);
    p.struct_size = sizeof p;
    CHECK(hone_linear_create(NULL, tw, NULL, NULL, &untouched) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_linear_create(&p, NULL, NULL, NULL, &untouched) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_linear_create(&p, tw, NULL, NULL, NULL) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(untouched == (hone_linear*)&p);
    CHECK(hone_linear_create(&p, tw, NULL, NULL, &layer) == HONE_OK);
    CHECK(hone_linear_run(layer, ty, ty) == HONE_ERROR_SHAPE_MISMATCH); /* K = 4 != 8 */
    CHECK(strstr(hone_last_error(), "hone_linear_run") != NULL);
    CHECK(hone_linear_run(NULL, tx, ty) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_linear_run(layer, tx, NULL) == HONE_ERROR_INVALID_ARGUMENT);
    hone_linear_destroy(layer);
    hone_linear_destroy(NULL);
    CHECK(hone_linear_params_init(NULL) == HONE_ERROR_INVALID_ARGUMENT);
    hone_tensor_destroy(tw);
    hone_tensor_destroy(tx);
    hone_tensor_destroy(ty);
    hone_tensor_destroy(tbias);
}

static void test_conv(void) {
    /* 1 input channel 4x4, 2 output channels 3x3 kernels, pad 1: dst [1, 2, 4, 4]. */
    float x[16], w[18], bias[2] = {1, -1}, y[32];
    const int64_t dx[4] = {1, 1, 4, 4}, dw[4] = {2, 1, 3, 3}, dy[4] = {1, 2, 4, 4}, db[1] = {2};
    int64_t out[4] = {0};
    hone_conv2d_params p;
    hone_conv2d* conv = NULL;
    hone_tensor *tx, *tw, *ty, *tb;
    int i;
    for (i = 0; i < 16; ++i)
        x[i] = (float)i;
    for (i = 0; i < 18; ++i)
        w[i] = i < 9 ? (i == 4 ? 1.0f : 0.0f) : 1.0f; /* channel 0: identity; 1: 3x3 box sum */
    tx = wrap_tensor(HONE_DTYPE_F32, 4, dx, x, sizeof x);
    tw = wrap_tensor(HONE_DTYPE_F32, 4, dw, w, sizeof w);
    ty = wrap_tensor(HONE_DTYPE_F32, 4, dy, y, sizeof y);
    tb = wrap_tensor(HONE_DTYPE_F32, 1, db, bias, sizeof bias);
    CHECK(hone_conv2d_params_init(&p) == HONE_OK);
    CHECK(p.kernel_h == 1 && p.stride_w == 1 && p.dilation_h == 1 && p.groups == 1);
    p.in_channels = 1;
    p.out_channels = 2;
    p.kernel_h = p.kernel_w = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    CHECK(hone_conv2d_create(&p, tw, NULL, tb, &conv) == HONE_OK);
    CHECK(hone_conv2d_output_shape(conv, dx, out) == HONE_OK);
    CHECK(out[0] == 1 && out[1] == 2 && out[2] == 4 && out[3] == 4);
    CHECK(hone_conv2d_run(conv, tx, ty) == HONE_OK);
    CHECK(y[5] == 6.0f);                                           /* identity + 1 */
    CHECK(y[16 + 5] == 0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10 - 1.0f); /* box sum around (1,1) - 1 */
    CHECK(y[16] == 0 + 1 + 4 + 5 - 1.0f); /* corner: padding contributes 0 */
    CHECK(hone_conv2d_run(conv, ty, ty) == HONE_ERROR_SHAPE_MISMATCH); /* 2 channels, not 1 */
    CHECK(hone_conv2d_output_shape(conv, dy, out) == HONE_ERROR_SHAPE_MISMATCH);
    CHECK(out[1] == 2);
    hone_conv2d_destroy(conv);

    /* int8 from f32 weights (static activations): close to f32 */
    p.type = HONE_GEMM_INT8;
    p.act_scale = 15.0f / 255.0f;
    conv = NULL;
    CHECK(hone_conv2d_create(&p, tw, NULL, tb, &conv) == HONE_OK);
    CHECK(hone_conv2d_run(conv, tx, ty) == HONE_OK);
    CHECK(close_to(y[5], 6.0f, 0.05f));
    CHECK(close_to(y[16 + 5], 44.0f, 0.3f));
    hone_conv2d_destroy(conv);

    /* errors */
    {
        hone_conv2d* untouched = (hone_conv2d*)&p;
        p.groups = 2; /* does not divide 1 input channel */
        CHECK(hone_conv2d_create(&p, tw, NULL, tb, &untouched) == HONE_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(hone_last_error(), "groups") != NULL);
        p.groups = 1;
        p.type = HONE_GEMM_BF16;
        CHECK(hone_conv2d_create(&p, tw, NULL, tb, &untouched) == HONE_ERROR_UNSUPPORTED);
        p.type = HONE_GEMM_F32;
        CHECK(hone_conv2d_create(&p, tx, NULL, tb, &untouched) == HONE_ERROR_SHAPE_MISMATCH);
        CHECK(hone_conv2d_create(NULL, tw, NULL, tb, &untouched) == HONE_ERROR_INVALID_ARGUMENT);
        CHECK(untouched == (hone_conv2d*)&p);
        CHECK(hone_conv2d_run(NULL, tx, ty) == HONE_ERROR_INVALID_ARGUMENT);
        CHECK(hone_conv2d_output_shape(NULL, dx, out) == HONE_ERROR_INVALID_ARGUMENT);
        CHECK(hone_conv2d_params_init(NULL) == HONE_ERROR_INVALID_ARGUMENT);
        hone_conv2d_destroy(NULL);
    }
    hone_tensor_destroy(tx);
    hone_tensor_destroy(tw);
    hone_tensor_destroy(ty);
    hone_tensor_destroy(tb);
}

int main(void) {
    const char *isa = NULL, *version = NULL;
    int saturates = -1;
    CHECK(hone_onednn_info(&isa, &version, &saturates) == HONE_OK);
    CHECK(isa != NULL && version != NULL && (saturates == 0 || saturates == 1));
    CHECK(hone_onednn_info(NULL, NULL, NULL) == HONE_OK);
    test_matmul();
    test_linear();
    test_conv();
    if (failures == 0)
        printf("C ABI gemm: all checks passed (oneDNN %s, isa %s, int8 pair saturation %d)\n",
               version, isa, saturates);
    return failures ? 1 : 0;
}
