/* Sparsity, clustering, norms and palettized kernels through the C ABI, incl. error paths. */
#include <hone/hone.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static void test_masks(void) {
    float w[8] = {0.5f, -3.0f, 1.0f, -1.0f, 2.0f, 0.0f, -0.0f, 4.0f};
    unsigned char mask[8];
    float out[8];
    float threshold = -1.0f;
    const int64_t d8[1] = {8}, d24[2] = {2, 4}, d7[1] = {7};
    hone_tensor* tw = wrap_tensor(HONE_DTYPE_F32, 1, d8, w, sizeof w);
    hone_tensor* tm = wrap_tensor(HONE_DTYPE_U8, 1, d8, mask, sizeof mask);
    hone_tensor* to = wrap_tensor(HONE_DTYPE_F32, 1, d8, out, sizeof out);
    hone_tensor* tw2 = wrap_tensor(HONE_DTYPE_F32, 2, d24, w, sizeof w);
    hone_tensor* tm2 = wrap_tensor(HONE_DTYPE_BOOL, 2, d24, mask, sizeof mask);
    hone_tensor* tshort = wrap_tensor(HONE_DTYPE_U8, 1, d7, mask, 7);
    CHECK(tw && tm && to && tw2 && tm2 && tshort);

    CHECK(hone_topk_mask(tw, 3, HONE_SCORE_MAGNITUDE, tm, &threshold) == HONE_OK);
    CHECK(threshold == 2.0f);
    CHECK(memcmp(mask, "\0\1\0\0\1\0\0\1", 8) == 0);
    CHECK(hone_apply_mask(tw, tm, to) == HONE_OK);
    CHECK(out[0] == 0.0f && !signbit(out[0]) && out[1] == -3.0f && out[7] == 4.0f);
    CHECK(hone_topk_mask(tw, 2, HONE_SCORE_VALUE, tm, NULL) == HONE_OK);
    CHECK(memcmp(mask, "\0\0\0\0\1\0\0\1", 8) == 0);
    /* errors: out-params untouched */
    threshold = -1.0f;
    CHECK(hone_topk_mask(tw, 9, HONE_SCORE_MAGNITUDE, tm, &threshold) ==
          HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "hone_topk_mask") != NULL);
    CHECK(threshold == -1.0f);
    CHECK(hone_topk_mask(tw, 1, (hone_score_kind)5, tm, NULL) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_topk_mask(tw, 1, HONE_SCORE_VALUE, tshort, NULL) == HONE_ERROR_SHAPE_MISMATCH);
    CHECK(hone_topk_mask(NULL, 1, HONE_SCORE_VALUE, tm, NULL) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_topk_mask(tw, 1, HONE_SCORE_VALUE, to, NULL) == HONE_ERROR_DTYPE_MISMATCH);
    w[3] = NAN;
    CHECK(hone_topk_mask(tw, 1, HONE_SCORE_VALUE, tm, NULL) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "score 3") != NULL);
    w[3] = -1.0f;

    CHECK(hone_nm_mask(tw2, 2, 4, HONE_SCORE_MAGNITUDE, tm2) == HONE_OK);
    CHECK(memcmp(mask, "\0\1\1\0\1\0\0\1", 8) == 0);
    CHECK(hone_nm_mask(tw2, 2, 3, HONE_SCORE_MAGNITUDE, tm2) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "not a multiple of M = 3") != NULL);
    CHECK(hone_nm_mask(tw2, 4, 4, HONE_SCORE_MAGNITUDE, tm2) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_apply_mask(tw, tshort, to) != HONE_OK);

    hone_tensor_destroy(tw);
    hone_tensor_destroy(tm);
    hone_tensor_destroy(to);
    hone_tensor_destroy(tw2);
    hone_tensor_destroy(tm2);
    hone_tensor_destroy(tshort);
}

static void test_cluster_and_norms(void) {
    float values[6] = {-2.0f, -0.5f, 0.0f, 0.5f, 0.74f, 9.0f};
    float centroids[3] = {-1.0f, 0.0f, 1.0f};
    float unsorted[3] = {0.0f, -1.0f, 1.0f};
    unsigned char idx[6] = {0};
    float back[6];
    const int64_t d6[1] = {6}, d3[1] = {3}, d23[2] = {2, 3}, d2[1] = {2};
    hone_tensor* tv = wrap_tensor(HONE_DTYPE_F32, 1, d6, values, sizeof values);
    hone_tensor* tc = wrap_tensor(HONE_DTYPE_F32, 1, d3, centroids, sizeof centroids);
    hone_tensor* tu = wrap_tensor(HONE_DTYPE_F32, 1, d3, unsorted, sizeof unsorted);
    hone_tensor* ti = wrap_tensor(HONE_DTYPE_U8, 1, d6, idx, sizeof idx);
    hone_tensor* tb = wrap_tensor(HONE_DTYPE_F32, 1, d6, back, sizeof back);
    CHECK(hone_nearest_centroid(tv, tc, ti) == HONE_OK);
    CHECK(memcmp(idx, "\0\0\1\1\2\2", 6) == 0); /* -0.5 and 0.5 are midpoints: lower index */
    CHECK(hone_codebook_lookup(ti, tc, tb) == HONE_OK);
    CHECK(back[0] == -1.0f && back[3] == 0.0f && back[5] == 1.0f);
    CHECK(hone_nearest_centroid(tv, tu, ti) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "sorted") != NULL);
    idx[2] = 3;
    back[0] = 42.0f;
    CHECK(hone_codebook_lookup(ti, tc, tb) == HONE_ERROR_OUT_OF_RANGE);
    CHECK(back[0] == 42.0f);

    {
        float m[6] = {3, 4, 0, 0, -2, 0};
        float rows[2], cols[3];
        hone_tensor* tm = wrap_tensor(HONE_DTYPE_F32, 2, d23, m, sizeof m);
        hone_tensor* tr = wrap_tensor(HONE_DTYPE_F32, 1, d2, rows, sizeof rows);
        hone_tensor* tcol = wrap_tensor(HONE_DTYPE_F32, 1, d3, cols, sizeof cols);
        CHECK(hone_row_norms(tm, HONE_NORM_L2, tr) == HONE_OK);
        CHECK(rows[0] == 5.0f && rows[1] == 2.0f);
        CHECK(hone_col_norms(tm, HONE_NORM_L1, tcol) == HONE_OK);
        CHECK(cols[0] == 3.0f && cols[1] == 6.0f && cols[2] == 0.0f);
        CHECK(hone_col_norms(tm, HONE_NORM_SUM_SQUARES, tcol) == HONE_OK);
        CHECK(cols[1] == 20.0f);
        CHECK(hone_row_norms(tm, HONE_NORM_L2, tcol) == HONE_ERROR_SHAPE_MISMATCH);
        CHECK(hone_row_norms(tm, (hone_norm)9, tr) == HONE_ERROR_INVALID_ARGUMENT);
        hone_tensor_destroy(tm);
        hone_tensor_destroy(tr);
        hone_tensor_destroy(tcol);
    }
    hone_tensor_destroy(tv);
    hone_tensor_destroy(tc);
    hone_tensor_destroy(tu);
    hone_tensor_destroy(ti);
    hone_tensor_destroy(tb);
}

static void test_palettized(void) {
    /* W [3, 5] with 2-bit indices, one codebook per row (rows_per_group = 1). */
    unsigned char idx[15] = {0, 1, 2, 3, 0, 3, 3, 3, 3, 3, 1, 0, 1, 0, 2};
    unsigned char packed[6] = {0}, back[15] = {0};
    float codebooks[12] = {0, 1, 2, 3, -1, -2, -3, 0.5f, 10, 20, 30, 40};
    float x[5] = {1, 2, 3, 4, 5}, x2[10] = {1, 2, 3, 4, 5, 0, 0, 0, 0, 1};
    float y[3], y2[6], dense[15], bias[3] = {100, 200, 300};
    size_t row_bytes = 0;
    const int64_t d35[2] = {3, 5}, d32[2] = {3, 2}, d34[2] = {3, 4}, d5[1] = {5}, d3[1] = {3},
                  d25[2] = {2, 5}, d23[2] = {2, 3};
    hone_palettized_params p, bad;
    hone_tensor *ti, *tp, *tb, *tcb, *tx, *ty, *td, *tbias, *tx2, *ty2;
    CHECK(hone_packed_row_bytes(5, 2, &row_bytes) == HONE_OK && row_bytes == 2);
    CHECK(hone_packed_row_bytes(5, 9, &row_bytes) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(row_bytes == 2);
    ti = wrap_tensor(HONE_DTYPE_U8, 2, d35, idx, sizeof idx);
    tp = wrap_tensor(HONE_DTYPE_U8, 2, d32, packed, sizeof packed);
    tb = wrap_tensor(HONE_DTYPE_U8, 2, d35, back, sizeof back);
    tcb = wrap_tensor(HONE_DTYPE_F32, 2, d34, codebooks, sizeof codebooks);
    tx = wrap_tensor(HONE_DTYPE_F32, 1, d5, x, sizeof x);
    ty = wrap_tensor(HONE_DTYPE_F32, 1, d3, y, sizeof y);
    td = wrap_tensor(HONE_DTYPE_F32, 2, d35, dense, sizeof dense);
    tbias = wrap_tensor(HONE_DTYPE_F32, 1, d3, bias, sizeof bias);
    tx2 = wrap_tensor(HONE_DTYPE_F32, 2, d25, x2, sizeof x2);
    ty2 = wrap_tensor(HONE_DTYPE_F32, 2, d23, y2, sizeof y2);
    CHECK(hone_pack_indices(ti, 2, tp) == HONE_OK);
    CHECK(packed[0] == 0xE4 && packed[1] == 0x00); /* 0,1,2,3 LSB first; index 4 = 0 */
    CHECK(hone_unpack_indices(tp, 2, tb) == HONE_OK);
    CHECK(memcmp(idx, back, 15) == 0);
    idx[7] = 4;
    CHECK(hone_pack_indices(ti, 2, tp) == HONE_ERROR_OUT_OF_RANGE);
    CHECK(strstr(hone_last_error(), "row 1, column 2") != NULL);
    idx[7] = 3;

    CHECK(hone_palettized_params_init(&p) == HONE_OK && p.bits == 4);
    p.bits = 2;
    p.cols = 5;
    p.rows_per_group = 1;
    CHECK(hone_palettized_decode(&p, tp, tcb, td) == HONE_OK);
    CHECK(dense[3] == 3.0f && dense[5] == 0.5f && dense[14] == 30.0f);
    CHECK(hone_palettized_matmul(&p, tp, tcb, tx, tbias, ty) == HONE_OK);
    CHECK(fabsf(y[0] - (100 + 0 + 2 + 6 + 12 + 0)) < 1e-4f);
    CHECK(fabsf(y[1] - (200 + 0.5f * 15)) < 1e-4f);
    CHECK(fabsf(y[2] - (300 + 20 + 20 + 60 + 40 + 150)) < 1e-3f);
    CHECK(hone_palettized_matmul(&p, tp, tcb, tx2, NULL, ty2) == HONE_OK);
    CHECK(fabsf(y2[0] - (y[0] - 100)) < 1e-4f && fabsf(y2[5] - 30.0f) < 1e-4f);
    /* errors */
    y[0] = 7.0f;
    bad = p;
    bad.struct_size = 4;
    CHECK(hone_palettized_matmul(&bad, tp, tcb, tx, NULL, ty) == HONE_ERROR_INVALID_ARGUMENT);
    bad = p;
    bad.cols = 9;
    CHECK(hone_palettized_matmul(&bad, tp, tcb, tx, NULL, ty) != HONE_OK);
    bad = p;
    bad.rows_per_group = 0; /* one codebook expected, three given */
    CHECK(hone_palettized_matmul(&bad, tp, tcb, tx, NULL, ty) == HONE_ERROR_SHAPE_MISMATCH);
    CHECK(hone_palettized_matmul(&p, tp, tcb, ty, NULL, tx) == HONE_ERROR_SHAPE_MISMATCH);
    CHECK(hone_palettized_matmul(&p, tp, tcb, tx, tx, ty) == HONE_ERROR_SHAPE_MISMATCH);
    CHECK(y[0] == 7.0f);
    CHECK(hone_palettized_decode(&p, tp, tcb, ty) == HONE_ERROR_SHAPE_MISMATCH);
    CHECK(hone_palettized_decode(NULL, tp, tcb, td) == HONE_ERROR_INVALID_ARGUMENT);
    hone_tensor_destroy(ti);
    hone_tensor_destroy(tp);
    hone_tensor_destroy(tb);
    hone_tensor_destroy(tcb);
    hone_tensor_destroy(tx);
    hone_tensor_destroy(ty);
    hone_tensor_destroy(td);
    hone_tensor_destroy(tbias);
    hone_tensor_destroy(tx2);
    hone_tensor_destroy(ty2);
}

int main(void) {
    test_masks();
    test_cluster_and_norms();
    test_palettized();
    if (failures == 0) printf("C ABI sparsity/cluster/norms/palettized: all checks passed\n");
    return failures ? 1 : 0;
}
