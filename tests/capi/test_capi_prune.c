/* The pruner through the C ABI: every function, with its error paths. */
#include <hone/hone.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static int count_zeros(const float* w, int n) {
    int z = 0, i;
    for (i = 0; i < n; ++i)
        z += w[i] == 0.0f;
    return z;
}

/* A deterministic pseudo-random fill (no rand(): the same on every libc). */
static void fill(float* w, int n, unsigned seed) {
    int i;
    unsigned s = seed * 2654435761u + 1u;
    for (i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        w[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 4.0f;
    }
}

static void test_magnitude_global_nm_blocks(void) {
    float w[64], w2[32], g[64];
    unsigned char mask[64];
    const int64_t d88[2] = {8, 8}, d48[2] = {4, 8}, d87[2] = {8, 7};
    hone_tensor *tw, *tw2, *tm, *tbad, *tg;
    hone_tensor* layers[2];
    hone_tensor* masks[2];
    hone_prune_result r, rs[2];
    double lo[2] = {0.0, 0.5}, hi[2] = {0.9, 0.9}, sp = -1.0;
    int64_t count = -1;

    fill(w, 64, 1);
    tw = wrap_tensor(HONE_DTYPE_F32, 2, d88, w, sizeof w);
    tm = wrap_tensor(HONE_DTYPE_U8, 2, d88, mask, sizeof mask);
    tbad = wrap_tensor(HONE_DTYPE_U8, 2, d87, mask, 56);
    CHECK(tw && tm && tbad);

    CHECK(hone_pruned_count(0.25, 10, &count) == HONE_OK && count == 3);
    CHECK_FAILS(hone_pruned_count(1.0, 10, &count), HONE_ERROR_INVALID_ARGUMENT, "[0, 1)");
    CHECK(count == 3);

    r.struct_size = sizeof r;
    CHECK(hone_prune_magnitude(tw, 0.5, tm, &r) == HONE_OK);
    CHECK(r.total == 64 && r.pruned == 32 && r.loss == 0.0);
    CHECK(count_zeros(w, 64) == 32);
    {
        int i, kept = 0;
        for (i = 0; i < 64; ++i) {
            kept += mask[i];
            if (mask[i]) CHECK(fabsf(w[i]) >= r.threshold);
        }
        CHECK(kept == 32);
    }
    CHECK(hone_sparsity_of(tw, &sp) == HONE_OK && sp == 0.5);
    CHECK_FAILS(hone_prune_magnitude(tw, -0.1, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "hone_prune_magnitude");
    CHECK_FAILS(hone_prune_magnitude(tw, 0.5, tbad, NULL), HONE_ERROR_SHAPE_MISMATCH, "mask");
    CHECK_FAILS(hone_prune_magnitude(NULL, 0.5, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "weights");
    r.struct_size = 3;
    CHECK_FAILS(hone_prune_magnitude(tw, 0.5, NULL, &r), HONE_ERROR_INVALID_ARGUMENT,
                "struct_size");
    r.struct_size = sizeof r;
    w[5] = NAN;
    CHECK_FAILS(hone_prune_magnitude(tw, 0.5, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT, "NaN");

    /* global with bounds */
    fill(w, 64, 2);
    fill(w2, 32, 3);
    tw2 = wrap_tensor(HONE_DTYPE_F32, 2, d48, w2, sizeof w2);
    layers[0] = tw;
    layers[1] = tw2;
    masks[0] = NULL;
    masks[1] = NULL;
    rs[0].struct_size = rs[1].struct_size = sizeof(hone_prune_result);
    CHECK(hone_prune_global(layers, 2, 0.5, lo, hi, masks, rs) == HONE_OK);
    CHECK(rs[0].pruned + rs[1].pruned == 48);
    CHECK(rs[1].pruned >= 16);
    CHECK(count_zeros(w, 64) == rs[0].pruned && count_zeros(w2, 32) == rs[1].pruned);
    hi[0] = 0.1;
    hi[1] = 0.1;
    CHECK_FAILS(hone_prune_global(layers, 2, 0.5, NULL, hi, NULL, NULL),
                HONE_ERROR_INVALID_ARGUMENT, "bounds");
    CHECK_FAILS(hone_prune_global(NULL, 2, 0.5, NULL, NULL, NULL, NULL),
                HONE_ERROR_INVALID_ARGUMENT, "weights");

    /* N:M */
    fill(w, 64, 4);
    CHECK(hone_prune_n_m(tw, 2, 4, tm, &r) == HONE_OK);
    CHECK(r.pruned == 32);
    {
        int gi, t;
        for (gi = 0; gi < 16; ++gi) {
            int kept = 0;
            for (t = 0; t < 4; ++t)
                kept += mask[gi * 4 + t];
            CHECK(kept == 2);
        }
    }
    CHECK_FAILS(hone_prune_n_m(tw, 4, 4, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT, "N < M");
    CHECK_FAILS(hone_prune_n_m(tw, 1, 3, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "multiple of M = 3");

    /* blocks */
    fill(w, 64, 5);
    CHECK(hone_prune_blocks(tw, 2, 4, 0.5, HONE_IMPORTANCE_L1, NULL, &r) == HONE_OK);
    CHECK(r.pruned == 32 && count_zeros(w, 64) == 32);
    CHECK_FAILS(hone_prune_blocks(tw, 3, 4, 0.5, HONE_IMPORTANCE_L2, NULL, NULL),
                HONE_ERROR_INVALID_ARGUMENT, "3x4 blocks");
    CHECK_FAILS(hone_prune_blocks(tw, 2, 4, 0.5, HONE_IMPORTANCE_ACTIVATION_WEIGHTED, NULL, NULL),
                HONE_ERROR_INVALID_ARGUMENT, "hone_importance");

    /* masks for fine-tuning */
    fill(g, 64, 6);
    tg = wrap_tensor(HONE_DTYPE_F32, 2, d88, g, sizeof g);
    CHECK(hone_mask_of(tw, tm) == HONE_OK);
    CHECK(hone_masked_sgd_step(tw, tg, tm, 0.5f) == HONE_OK);
    CHECK(count_zeros(w, 64) >= 32);
    {
        int i;
        for (i = 0; i < 64; ++i)
            if (!mask[i]) CHECK(w[i] == 0.0f && !signbit(w[i]));
    }
    CHECK(hone_apply_mask(tg, tm, tg) == HONE_OK); /* the gradient, masked in place */
    CHECK(count_zeros(g, 64) >= 32);
    CHECK_FAILS(hone_masked_sgd_step(tw, tg, tbad, 0.5f), HONE_ERROR_SHAPE_MISMATCH, "mask");
    CHECK_FAILS(hone_mask_of(tw, NULL), HONE_ERROR_INVALID_ARGUMENT, "mask");

    hone_tensor_destroy(tw);
    hone_tensor_destroy(tw2);
    hone_tensor_destroy(tm);
    hone_tensor_destroy(tbad);
    hone_tensor_destroy(tg);
}

static void test_channels(void) {
    float w[4 * 3] = {1, 1, 1, 0.1f, 0.1f, 0.1f, 2, 2, 2, 3, 3, 3};
    float b[4] = {10, 11, 12, 13};
    float next[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float act[3] = {1.0f, 1.0f, 0.0f};
    const int64_t d43[2] = {4, 3}, d4[1] = {4}, d24[2] = {2, 4}, d25[2] = {2, 5};
    hone_tensor* tw = wrap_tensor(HONE_DTYPE_F32, 2, d43, w, sizeof w);
    hone_tensor* tb = wrap_tensor(HONE_DTYPE_F32, 1, d4, b, sizeof b);
    hone_tensor* tn = wrap_tensor(HONE_DTYPE_F32, 2, d24, next, sizeof next);
    hone_tensor* tbadn = wrap_tensor(HONE_DTYPE_F32, 2, d25, next, 40);
    hone_tensor *ow = NULL, *ob = NULL, *oc = NULL, *ok = NULL;
    hone_channel_prune_params p;
    int64_t dims[4];
    void* data;
    CHECK(tw && tb && tn);
    CHECK(hone_channel_prune_params_init(&p) == HONE_OK);
    CHECK(p.sparsity == 0.5 && p.importance == HONE_IMPORTANCE_L2 && p.consumer_group == 1);
    p.sparsity = 0.25;
    CHECK(hone_prune_channels(&p, tw, tb, tn, &ow, &ob, &oc, &ok) == HONE_OK);
    CHECK(ow && ob && oc && ok);
    CHECK(hone_tensor_shape(ow, dims, 4) == HONE_OK && dims[0] == 3 && dims[1] == 3);
    CHECK(hone_tensor_shape(oc, dims, 4) == HONE_OK && dims[0] == 2 && dims[1] == 3);
    CHECK(hone_tensor_data(ok, &data) == HONE_OK);
    CHECK(((int64_t*)data)[0] == 0 && ((int64_t*)data)[1] == 2 && ((int64_t*)data)[2] == 3);
    CHECK(hone_tensor_data(ob, &data) == HONE_OK);
    CHECK(((float*)data)[1] == 12.0f);
    CHECK(hone_tensor_data(oc, &data) == HONE_OK);
    CHECK(((float*)data)[0] == 1 && ((float*)data)[1] == 3 && ((float*)data)[5] == 8);
    hone_tensor_destroy(ow);
    hone_tensor_destroy(ob);
    hone_tensor_destroy(oc);
    hone_tensor_destroy(ok);
    ow = NULL;
    /* activation-weighted: the last input is dead, so channel scores are sums of two entries */
    p.importance = HONE_IMPORTANCE_ACTIVATION_WEIGHTED;
    p.activation_norms = act;
    p.activation_norms_count = 3;
    CHECK(hone_prune_channels(&p, tw, NULL, NULL, &ow, NULL, NULL, NULL) == HONE_OK);
    hone_tensor_destroy(ow);
    ow = NULL;
    p.activation_norms_count = 2;
    CHECK_FAILS(hone_prune_channels(&p, tw, NULL, NULL, &ow, NULL, NULL, NULL),
                HONE_ERROR_SHAPE_MISMATCH, "activation norms");
    CHECK(ow == NULL);
    p.importance = HONE_IMPORTANCE_L1;
    CHECK_FAILS(hone_prune_channels(&p, tw, NULL, tbadn, &ow, NULL, NULL, NULL),
                HONE_ERROR_SHAPE_MISMATCH, "consumer");
    CHECK(ow == NULL);
    p.struct_size = 1;
    CHECK_FAILS(hone_prune_channels(&p, tw, NULL, NULL, &ow, NULL, NULL, NULL),
                HONE_ERROR_INVALID_ARGUMENT, "struct_size");
    hone_tensor_destroy(tw);
    hone_tensor_destroy(tb);
    hone_tensor_destroy(tn);
    hone_tensor_destroy(tbadn);
}

typedef struct quant_state {
    int calls;
    float step;
} quant_state;

static hone_status round_to_step(void* user, int64_t column, float* values, int64_t count) {
    quant_state* s = (quant_state*)user;
    int64_t i;
    (void)column;
    ++s->calls;
    for (i = 0; i < count; ++i)
        values[i] = roundf(values[i] / s->step) * s->step;
    return HONE_OK;
}

static hone_status failing_quantizer(void* user, int64_t column, float* values, int64_t count) {
    (void)user;
    (void)values;
    (void)count;
    return column == 3 ? HONE_ERROR_UNSUPPORTED : HONE_OK;
}

static void test_statistics_wanda_sparsegpt(void) {
    enum { K = 16, ROWS = 8, TOKENS = 64 };
    static float x[TOKENS * K], w[ROWS * K], w0[ROWS * K], h[K * K], norms[K], scales[ROWS];
    unsigned char mask[ROWS * K];
    const int64_t dx[2] = {TOKENS, K}, dw[2] = {ROWS, K}, dh[2] = {K, K}, dk[1] = {K};
    hone_tensor* tx = wrap_tensor(HONE_DTYPE_F32, 2, dx, x, sizeof x);
    hone_tensor* tw = wrap_tensor(HONE_DTYPE_F32, 2, dw, w, sizeof w);
    hone_tensor* th = wrap_tensor(HONE_DTYPE_F32, 2, dh, h, sizeof h);
    hone_tensor* tn = wrap_tensor(HONE_DTYPE_F32, 1, dk, norms, sizeof norms);
    hone_tensor* tm = wrap_tensor(HONE_DTYPE_U8, 2, dw, mask, sizeof mask);
    hone_layer_stats* stats = NULL;
    hone_sparsegpt_params sp;
    hone_prune_result r;
    quant_state qs;
    int64_t tokens = 0;
    int i;
    CHECK(tx && tw && th && tn && tm);
    fill(x, TOKENS * K, 7);
    fill(w0, ROWS * K, 8);

    CHECK(hone_layer_stats_create(K, 1, &stats) == HONE_OK);
    CHECK(hone_layer_stats_add(stats, tx) == HONE_OK);
    CHECK(hone_layer_stats_tokens(stats, &tokens) == HONE_OK && tokens == TOKENS);
    CHECK(hone_layer_stats_hessian(stats, th) == HONE_OK);
    CHECK(hone_layer_stats_column_norms(stats, tn) == HONE_OK);
    {
        double s = 0;
        for (i = 0; i < TOKENS; ++i)
            s += (double)x[i * K] * x[i * K];
        CHECK(fabs(norms[0] - sqrt(s)) < 1e-4 * sqrt(s));
        s = 0;
        for (i = 0; i < TOKENS; ++i)
            s += (double)x[i * K + 1] * x[i * K + 2];
        CHECK(fabs(h[1 * K + 2] - s) < 1e-3 * (fabs(s) + 1));
    }
    CHECK_FAILS(hone_layer_stats_add(stats, tm), HONE_ERROR_DTYPE_MISMATCH, "f32");
    {
        const int64_t d415[2] = {4, 15};
        hone_tensor* t415 = wrap_tensor(HONE_DTYPE_F32, 2, d415, x, 4 * 15 * sizeof(float));
        CHECK_FAILS(hone_layer_stats_add(stats, t415), HONE_ERROR_SHAPE_MISMATCH, "[tokens, 16]");
        hone_tensor_destroy(t415);
    }
    CHECK_FAILS(hone_layer_stats_create(0, 1, &stats), HONE_ERROR_INVALID_ARGUMENT, "K = 0");

    r.struct_size = sizeof r;
    memcpy(w, w0, sizeof w);
    CHECK(hone_prune_wanda(tw, tn, 0.5, 0, 0, tm, &r) == HONE_OK);
    CHECK(r.pruned == ROWS * K / 2 && count_zeros(w, ROWS * K) == ROWS * K / 2);
    memcpy(w, w0, sizeof w);
    CHECK(hone_prune_wanda(tw, tn, 0.0, 2, 4, NULL, &r) == HONE_OK);
    CHECK(r.pruned == ROWS * K / 2);
    CHECK_FAILS(hone_prune_wanda(tw, tw, 0.5, 0, 0, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "activation_norms");

    CHECK(hone_sparsegpt_params_init(&sp) == HONE_OK);
    CHECK(sp.sparsity == 0.5 && sp.block_size == 128 && sp.damp_fraction == 0.01);
    memcpy(w, w0, sizeof w);
    CHECK(hone_prune_sparsegpt(&sp, tw, th, tm, &r, NULL) == HONE_OK);
    CHECK(r.pruned == ROWS * K / 2 && r.loss > 0.0);
    CHECK(count_zeros(w, ROWS * K) >= ROWS * K / 2);
    sp.n = 2;
    sp.m = 4;
    sp.quant_bits = 4;
    memcpy(w, w0, sizeof w);
    CHECK(hone_prune_sparsegpt(&sp, tw, th, tm, &r, scales) == HONE_OK);
    CHECK(scales[0] > 0.0f);
    for (i = 0; i < K; ++i) {
        const float q = w[i] / scales[0];
        CHECK(fabsf(q - roundf(q)) < 1e-3f);
    }
    sp.quant_bits = 0;
    qs.calls = 0;
    qs.step = 0.25f;
    sp.quantize = round_to_step;
    sp.user_data = &qs;
    memcpy(w, w0, sizeof w);
    CHECK(hone_prune_sparsegpt(&sp, tw, th, NULL, &r, NULL) == HONE_OK);
    CHECK(qs.calls == K);
    for (i = 0; i < ROWS * K; ++i)
        CHECK(fabsf(w[i] * 4.0f - roundf(w[i] * 4.0f)) < 1e-5f);
    sp.quantize = failing_quantizer;
    CHECK_FAILS(hone_prune_sparsegpt(&sp, tw, th, NULL, NULL, NULL), HONE_ERROR_UNSUPPORTED,
                "column 3");
    sp.quantize = NULL;
    sp.n = 4;
    CHECK_FAILS(hone_prune_sparsegpt(&sp, tw, th, NULL, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "N < M");
    sp.n = 0;
    sp.m = 0;
    CHECK_FAILS(hone_prune_sparsegpt(&sp, tw, tn, NULL, NULL, NULL), HONE_ERROR_SHAPE_MISMATCH,
                "Hessian");

    hone_layer_stats_destroy(stats);
    hone_layer_stats_destroy(NULL);
    hone_tensor_destroy(tx);
    hone_tensor_destroy(tw);
    hone_tensor_destroy(th);
    hone_tensor_destroy(tn);
    hone_tensor_destroy(tm);
}

static void test_schedule(void) {
    hone_sparsity_schedule s;
    double sp = -1;
    int now = -1;
    CHECK(hone_sparsity_schedule_init(&s) == HONE_OK);
    CHECK(s.kind == HONE_SCHEDULE_POLYNOMIAL && s.power == 3.0 && s.frequency == 100);
    s.initial_sparsity = 0.1;
    s.final_sparsity = 0.8;
    s.begin_step = 1000;
    s.end_step = 5000;
    CHECK(hone_sparsity_schedule_at(&s, 3000, &sp, &now) == HONE_OK);
    CHECK(fabs(sp - 0.7125) < 1e-12 && now == 1);
    CHECK(hone_sparsity_schedule_at(&s, 3050, &sp, &now) == HONE_OK && now == 0);
    s.kind = HONE_SCHEDULE_CONSTANT;
    CHECK(hone_sparsity_schedule_at(&s, 3000, &sp, NULL) == HONE_OK && sp == 0.8);
    s.frequency = 0;
    CHECK_FAILS(hone_sparsity_schedule_at(&s, 3000, &sp, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "frequency");
    s.frequency = 1;
    s.kind = (hone_schedule_kind)7;
    CHECK_FAILS(hone_sparsity_schedule_at(&s, 1, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "hone_schedule_kind");
}

static void test_storage(void) {
    float w[16] = {0, 5, 0, 6, 7, 0, 0, 0, 1, 0, 2, 0, 0, 0, 3, 4};
    float back[16];
    const int64_t d28[2] = {2, 8};
    hone_tensor* tw = wrap_tensor(HONE_DTYPE_F32, 2, d28, w, sizeof w);
    hone_tensor* tb = wrap_tensor(HONE_DTYPE_F32, 2, d28, back, sizeof back);
    hone_sparse* s = NULL;
    size_t stored = 0, dense = 0, bytes = 0;
    const void* data = NULL;
    int f;
    CHECK(tw && tb);
    for (f = HONE_SPARSE_BITMASK; f <= HONE_SPARSE_CSR; ++f) {
        CHECK(hone_sparse_encode(tw, (hone_sparse_format)f, 2, 4, &s) == HONE_OK);
        CHECK(hone_sparse_bytes(s, &stored, &dense) == HONE_OK);
        CHECK(dense == 64);
        if (f == HONE_SPARSE_BITMASK) CHECK(stored == 2 + 7 * 4);
        if (f == HONE_SPARSE_N_M) CHECK(stored == 8 * 4 + 2);
        if (f == HONE_SPARSE_CSR) CHECK(stored == 3 * 4 + 7 * 8);
        memset(back, 0xFF, sizeof back);
        CHECK(hone_sparse_to_dense(s, tb) == HONE_OK);
        CHECK(memcmp(back, w, sizeof w) == 0);
        CHECK(hone_sparse_get_buffer(s, HONE_SPARSE_VALUES, &data, &bytes) == HONE_OK);
        CHECK(bytes == (f == HONE_SPARSE_N_M ? 32u : 28u));
        CHECK(((const float*)data)[0] == 5.0f);
        CHECK(hone_sparse_get_buffer(s, HONE_SPARSE_ROW_PTR, &data, &bytes) == HONE_OK);
        CHECK(bytes == (f == HONE_SPARSE_CSR ? 12u : 0u));
        CHECK_FAILS(hone_sparse_get_buffer(s, (hone_sparse_buffer)9, &data, &bytes),
                    HONE_ERROR_INVALID_ARGUMENT, "hone_sparse_buffer");
        hone_sparse_destroy(s);
        s = NULL;
    }
    w[0] = 9;
    CHECK_FAILS(hone_sparse_encode(tw, HONE_SPARSE_N_M, 2, 4, &s), HONE_ERROR_INVALID_ARGUMENT,
                "row 0, group 0");
    CHECK(s == NULL);
    CHECK_FAILS(hone_sparse_encode(tw, (hone_sparse_format)5, 2, 4, &s),
                HONE_ERROR_INVALID_ARGUMENT, "hone_sparse_format");
    CHECK_FAILS(hone_sparse_bytes(NULL, &stored, NULL), HONE_ERROR_INVALID_ARGUMENT, "sparse");
    hone_sparse_destroy(NULL);
    hone_tensor_destroy(tw);
    hone_tensor_destroy(tb);
}

int main(void) {
    test_magnitude_global_nm_blocks();
    test_channels();
    test_statistics_wanda_sparsegpt();
    test_schedule();
    test_storage();
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
