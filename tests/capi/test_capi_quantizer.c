/* C99 test of the weight quantizer's C ABI (hone.h, "quantizer" / weights): specs, RTN with
 * known values, clip search, GPTQ from a Hessian accumulated batch by batch and from inputs,
 * AWQ input scales, quantized tensors from parts, dequantization, error reports, errors. */
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static hone_tensor* make_f32(size_t rank, const int64_t* dims) {
    return create_tensor(HONE_DTYPE_F32, rank, dims);
}

static float* f32(hone_tensor* t) {
    void* d = NULL;
    CHECK(hone_tensor_data(t, &d) == HONE_OK);
    return (float*)d;
}

/* Deterministic pseudo-random values in [-1, 1). */
static float lcg(uint32_t* s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

int main(void) {
    hone_quant_spec spec;
    hone_quantizer_params params;
    hone_quantizer* q = NULL;
    hone_quantized_tensor* qt = NULL;
    hone_quant_report rep;
    const int64_t d6[1] = {6};

    /* ---- defaults ---- */
    CHECK(hone_quant_spec_init(&spec) == HONE_OK);
    CHECK(spec.bits == 8 && spec.is_signed == 1 && spec.symmetric == 1);
    CHECK(spec.granularity == HONE_QUANT_PER_CHANNEL && spec.group_size == 128);
    CHECK(hone_quantizer_params_init(&params) == HONE_OK);
    CHECK(params.method == HONE_WEIGHT_RTN && params.gptq_block_size == 128);
    CHECK(fabs(params.gptq_damp_fraction - 0.01) < 1e-12);

    /* ---- RTN int8 per tensor, known values: max 63.5 → scale 0.5 ---- */
    {
        hone_tensor* w = make_f32(1, d6);
        float* wv = f32(w);
        const float vals[6] = {63.5f, 0.25f, 0.75f, -0.25f, -0.75f, -63.5f};
        hone_tensor *data = NULL, *scales = NULL, *zps = NULL, *dq = make_f32(1, d6);
        int64_t dims[4];
        size_t rank = 0, bytes = 0;
        int i;
        for (i = 0; i < 6; ++i)
            wv[i] = vals[i];
        params.spec.granularity = HONE_QUANT_PER_TENSOR;
        CHECK(hone_quantizer_create(&params, &q) == HONE_OK);
        rep.struct_size = sizeof rep;
        CHECK(hone_quantizer_run(q, w, "fc.weight", NULL, NULL, &qt, NULL, &rep) == HONE_OK);
        CHECK(rep.elements == 6);
        CHECK(rep.has_output == 0);
        CHECK(rep.fraction_clipped == 0.0);
        CHECK(hone_quantized_tensor_parts(qt, &data, &scales, &zps) == HONE_OK);
        {
            void* p = NULL;
            int64_t n = -1;
            CHECK(hone_tensor_data(data, &p) == HONE_OK);
            /* 127, 0 (0.5 → even), 2 (1.5 → 2), 0, −2, −127 */
            CHECK(((int8_t*)p)[0] == 127 && ((int8_t*)p)[1] == 0 && ((int8_t*)p)[2] == 2);
            CHECK(((int8_t*)p)[3] == 0 && ((int8_t*)p)[4] == -2 && ((int8_t*)p)[5] == -127);
            CHECK(f32(scales)[0] == 0.5f);
            CHECK(hone_tensor_numel(zps, &n) == HONE_OK && n == 0);
        }
        CHECK(hone_quantized_tensor_shape(qt, dims, 4, &rank) == HONE_OK);
        CHECK(rank == 1 && dims[0] == 6);
        CHECK(hone_quantized_tensor_bytes(qt, &bytes) == HONE_OK && bytes == 6 + 4);
        CHECK(hone_quantized_tensor_dequantize(qt, dq) == HONE_OK);
        CHECK(f32(dq)[0] == 63.5f && f32(dq)[2] == 1.0f && f32(dq)[1] == 0.0f);
        CHECK(hone_quantized_tensor_spec(qt, &spec) == HONE_OK);
        CHECK(spec.bits == 8 && spec.granularity == HONE_QUANT_PER_TENSOR);
        /* Rebuild from parts: same dequantization. */
        {
            hone_quantized_tensor* again = NULL;
            hone_tensor* dq2 = make_f32(1, d6);
            CHECK(hone_quantized_tensor_create(&spec, d6, 1, data, scales, NULL, &again) ==
                  HONE_OK);
            CHECK(hone_quantized_tensor_dequantize(again, dq2) == HONE_OK);
            CHECK(memcmp(f32(dq), f32(dq2), 6 * sizeof(float)) == 0);
            CHECK(hone_quantized_tensor_measure_error(again, w, "fc.weight", NULL, NULL, &rep) ==
                  HONE_OK);
            CHECK(rep.max_abs_error == 0.25); /* 0.25 → 0 and −0.25 → 0 */
            hone_quantized_tensor_destroy(again);
            hone_tensor_destroy(dq2);
        }
        /* Errors: bad spec, shape mismatch, NULLs, wrong dst. */
        {
            hone_quantized_tensor* bad = (hone_quantized_tensor*)&bytes; /* untouched on failure */
            hone_quant_spec s2 = spec;
            const int64_t d5[1] = {5};
            s2.bits = 9;
            CHECK_FAILS(hone_quantized_tensor_create(&s2, d6, 1, data, scales, NULL, &bad),
                        HONE_ERROR_INVALID_ARGUMENT, "bits");
            CHECK(bad == (hone_quantized_tensor*)&bytes);
            CHECK_FAILS(hone_quantized_tensor_create(&spec, d5, 1, data, scales, NULL, &bad),
                        HONE_ERROR_SHAPE_MISMATCH, "data");
            CHECK_FAILS(hone_quantized_tensor_dequantize(qt, NULL), HONE_ERROR_INVALID_ARGUMENT,
                        "dst");
            CHECK_FAILS(hone_quantizer_run(q, NULL, "x", NULL, NULL, &bad, NULL, NULL),
                        HONE_ERROR_INVALID_ARGUMENT, "weights");
        }
        wv[3] = NAN;
        {
            hone_quantized_tensor* untouched = NULL;
            CHECK_FAILS(hone_quantizer_run(q, w, "fc.weight", NULL, NULL, &untouched, NULL, NULL),
                        HONE_ERROR_INVALID_ARGUMENT, "fc.weight");
            CHECK(untouched == NULL);
        }
        hone_tensor_destroy(data);
        hone_tensor_destroy(scales);
        hone_tensor_destroy(zps);
        hone_tensor_destroy(dq);
        hone_tensor_destroy(w);
        hone_quantized_tensor_destroy(qt);
        hone_quantizer_destroy(q);
        qt = NULL;
        q = NULL;
    }

    /* ---- bad params ---- */
    {
        hone_quantizer_params p2;
        hone_quantizer* none = NULL;
        hone_quantizer_params_init(&p2);
        p2.spec.bits = 1;
        CHECK_FAILS(hone_quantizer_create(&p2, &none), HONE_ERROR_INVALID_ARGUMENT, "bits");
        hone_quantizer_params_init(&p2);
        p2.method = (hone_weight_method)9;
        CHECK_FAILS(hone_quantizer_create(&p2, &none), HONE_ERROR_INVALID_ARGUMENT, "method");
        hone_quantizer_params_init(&p2);
        p2.struct_size = 4;
        CHECK_FAILS(hone_quantizer_create(&p2, &none), HONE_ERROR_INVALID_ARGUMENT, "struct_size");
        hone_quantizer_params_init(&p2);
        p2.spec.scale_dtype = HONE_DTYPE_I8;
        CHECK_FAILS(hone_quantizer_create(&p2, &none), HONE_ERROR_INVALID_ARGUMENT, "scale_dtype");
        CHECK(none == NULL);
        hone_quantizer_destroy(NULL);
        hone_quantized_tensor_destroy(NULL);
    }

    /* ---- a layer: RTN vs clip search vs GPTQ (Hessian in two batches, or inputs) vs AWQ ---- */
    {
        const int64_t n = 16, k = 64, m = 256;
        const int64_t dw[2] = {16, 64}, dx[2] = {256, 64}, dh[2] = {64, 64};
        const int64_t dhalf[2] = {128, 64};
        hone_tensor *w = make_f32(2, dw), *x = make_f32(2, dx), *h = make_f32(2, dh);
        hone_tensor *x1 = make_f32(2, dhalf), *x2 = make_f32(2, dhalf);
        hone_quant_report r_rtn, r_clip, r_gptq_h, r_gptq_x, r_awq;
        hone_quantized_tensor *q_rtn = NULL, *q_clip = NULL, *q_h = NULL, *q_x = NULL,
                              *q_awq = NULL;
        hone_tensor* s_awq = NULL;
        hone_tensor* not_awq = (hone_tensor*)&n;
        uint32_t seed = 7;
        int64_t i, j;
        for (i = 0; i < n * k; ++i)
            f32(w)[i] = 0.1f * lcg(&seed);
        for (i = 0; i < m; ++i) {
            const float common = lcg(&seed);
            for (j = 0; j < k; ++j)
                f32(x)[i * k + j] = (common + 0.3f * lcg(&seed)) * (1.0f + (float)(j % 4));
        }
        memcpy(f32(x1), f32(x), (size_t)(128 * k) * sizeof(float));
        memcpy(f32(x2), f32(x) + 128 * k, (size_t)(128 * k) * sizeof(float));
        CHECK(hone_hessian_accumulate(x1, h) == HONE_OK);
        CHECK(hone_hessian_accumulate(x2, h) == HONE_OK);

        hone_quantizer_params_init(&params);
        params.spec.bits = 4;
        params.spec.granularity = HONE_QUANT_PER_GROUP;
        params.spec.group_size = 16;
        r_rtn.struct_size = r_clip.struct_size = r_gptq_h.struct_size = sizeof(hone_quant_report);
        r_gptq_x.struct_size = r_awq.struct_size = sizeof(hone_quant_report);

        CHECK(hone_quantizer_create(&params, &q) == HONE_OK);
        CHECK(hone_quantizer_run(q, w, "layer", x, NULL, &q_rtn, &not_awq, &r_rtn) == HONE_OK);
        CHECK(not_awq == NULL); /* no input scales for RTN */
        CHECK(r_rtn.has_output == 1 && r_rtn.output_sqnr_db > 10);
        hone_quantizer_destroy(q);

        params.method = HONE_WEIGHT_CLIP_SEARCH;
        CHECK(hone_quantizer_create(&params, &q) == HONE_OK);
        CHECK(hone_quantizer_run(q, w, "layer", x, NULL, &q_clip, NULL, &r_clip) == HONE_OK);
        CHECK(r_clip.mse <= r_rtn.mse);
        hone_quantizer_destroy(q);

        params.method = HONE_WEIGHT_GPTQ;
        CHECK(hone_quantizer_create(&params, &q) == HONE_OK);
        CHECK_FAILS(hone_quantizer_run(q, w, "layer", NULL, NULL, &q_h, NULL, NULL),
                    HONE_ERROR_INVALID_ARGUMENT, "calibration");
        CHECK(hone_quantizer_run(q, w, "layer", x, h, &q_h, NULL, &r_gptq_h) == HONE_OK);
        CHECK(hone_quantizer_run(q, w, "layer", x, NULL, &q_x, NULL, &r_gptq_x) == HONE_OK);
        CHECK(r_gptq_h.output_mse < r_rtn.output_mse); /* on the calibration inputs */
        CHECK(fabs(r_gptq_h.output_mse - r_gptq_x.output_mse) <= 1e-3 * r_gptq_x.output_mse);
        {
            /* a non-finite Hessian is an error naming the layer */
            hone_quantized_tensor* none = NULL;
            f32(h)[5] = INFINITY;
            CHECK_FAILS(hone_quantizer_run(q, w, "layer7", NULL, h, &none, NULL, NULL),
                        HONE_ERROR_INVALID_ARGUMENT, "layer7");
            CHECK(none == NULL);
        }
        hone_quantizer_destroy(q);

        params.method = HONE_WEIGHT_AWQ;
        params.awq_grid = 10;
        CHECK(hone_quantizer_create(&params, &q) == HONE_OK);
        CHECK(hone_quantizer_run(q, w, "layer", x, NULL, &q_awq, &s_awq, &r_awq) == HONE_OK);
        CHECK(s_awq != NULL);
        {
            int64_t ns = 0;
            hone_quant_report again;
            again.struct_size = sizeof again;
            CHECK(hone_tensor_numel(s_awq, &ns) == HONE_OK && ns == k);
            CHECK(r_awq.output_mse <= r_rtn.output_mse * (1 + 1e-9));
            CHECK(hone_quantized_tensor_measure_error(q_awq, w, "layer", x, s_awq, &again) ==
                  HONE_OK);
            CHECK(fabs(again.output_mse - r_awq.output_mse) <= 1e-9 * r_awq.output_mse);
        }
        hone_quantizer_destroy(q);
        q = NULL;
        hone_quantized_tensor_destroy(q_rtn);
        hone_quantized_tensor_destroy(q_clip);
        hone_quantized_tensor_destroy(q_h);
        hone_quantized_tensor_destroy(q_x);
        hone_quantized_tensor_destroy(q_awq);
        hone_tensor_destroy(s_awq);
        hone_tensor_destroy(w);
        hone_tensor_destroy(x);
        hone_tensor_destroy(x1);
        hone_tensor_destroy(x2);
        hone_tensor_destroy(h);
    }

    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
