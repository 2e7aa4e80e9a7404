/* The clusterer's C ABI, from C99 against hone.h alone: every function, including error paths. */
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* A deterministic pseudo-random value in about [-0.5, 0.5). */
static float lcg(uint32_t* s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 65536.0f - 0.5f;
}

static void test_kmeans1d(void) {
    const int64_t n_dims[1] = {9};
    const int64_t c_dims[1] = {4};
    hone_tensor* values = create_tensor(HONE_DTYPE_F32, 1, n_dims);
    hone_tensor* centroids = create_tensor(HONE_DTYPE_F32, 1, c_dims);
    float* v = (float*)tensor_data(values);
    const float x[9] = {1, 1.1f, 1.2f, 5, 5.1f, 5.2f, 9, 9.1f, 9.2f};
    hone_cluster_params p;
    int used = 0;
    double sse = -1;
    float* c;
    int i;
    for (i = 0; i < 9; ++i)
        v[i] = x[i];
    CHECK(hone_cluster_params_init(&p) == HONE_OK);
    CHECK(p.clusters == 16 && p.method == HONE_KMEANS_AUTO && p.max_iterations == 300);
    CHECK(p.auto_max_cells == 67108864 && p.codebook_dtype == HONE_DTYPE_F32);
    p.clusters = 3;
    p.method = HONE_KMEANS_OPTIMAL;
    CHECK(hone_kmeans1d(&p, values, NULL, centroids, &used, &sse) == HONE_OK);
    c = (float*)tensor_data(centroids);
    CHECK(used == 3);
    CHECK(fabsf(c[0] - 1.1f) < 1e-6f && fabsf(c[1] - 5.1f) < 1e-6f && fabsf(c[2] - 9.1f) < 1e-6f);
    CHECK(fabs(sse - 0.06) < 1e-6);
    p.method = HONE_KMEANS_LLOYD;
    p.init = HONE_KMEANS_INIT_LINEAR;
    CHECK(hone_kmeans1d(&p, values, NULL, centroids, &used, NULL) == HONE_OK);
    CHECK(used == 3 && fabsf(c[1] - 5.1f) < 1e-6f);
    /* Fewer distinct values than k: every value is a centroid. */
    p.clusters = 4;
    for (i = 0; i < 9; ++i)
        v[i] = (float)(i % 2);
    CHECK(hone_kmeans1d(&p, values, NULL, centroids, &used, &sse) == HONE_OK);
    CHECK(used == 2 && c[0] == 0.0f && c[1] == 1.0f && sse == 0.0);
    /* Errors. */
    p.clusters = 1;
    CHECK_FAILS(hone_kmeans1d(&p, values, NULL, centroids, &used, &sse),
                HONE_ERROR_INVALID_ARGUMENT, "k = 1");
    p.clusters = 5;
    CHECK_FAILS(hone_kmeans1d(&p, values, NULL, centroids, &used, &sse), HONE_ERROR_SHAPE_MISMATCH,
                "centroids holds 4");
    p.clusters = 2;
    v[3] = NAN;
    CHECK_FAILS(hone_kmeans1d(&p, values, NULL, centroids, &used, &sse),
                HONE_ERROR_INVALID_ARGUMENT, "value 3 is nan");
    v[3] = 0;
    p.method = (hone_kmeans_method)7;
    CHECK_FAILS(hone_kmeans1d(&p, values, NULL, centroids, &used, &sse),
                HONE_ERROR_INVALID_ARGUMENT, "params->method 7");
    p.method = HONE_KMEANS_OPTIMAL;
    CHECK_FAILS(hone_kmeans1d(&p, values, NULL, centroids, NULL, &sse), HONE_ERROR_INVALID_ARGUMENT,
                "'used' is NULL");
    CHECK_FAILS(hone_kmeans1d(NULL, values, NULL, centroids, &used, &sse),
                HONE_ERROR_INVALID_ARGUMENT, "'params' is NULL");
    hone_tensor_destroy(values);
    hone_tensor_destroy(centroids);
}

static void test_cluster(void) {
    const int64_t w_dims[2] = {8, 30};
    hone_tensor* weights = create_tensor(HONE_DTYPE_F32, 2, w_dims);
    float* w = (float*)tensor_data(weights);
    uint32_t seed = 1;
    hone_cluster_params p;
    hone_clustered* cl = NULL;
    hone_clustered_info info;
    int32_t used[8];
    int i, g;
    for (i = 0; i < 240; ++i)
        w[i] = (i % 3 == 0) ? 0.0f : lcg(&seed);
    hone_cluster_params_init(&p);
    p.clusters = 4;
    p.granularity = HONE_CLUSTER_PER_CHANNEL;
    p.preserve_sparsity = 1;
    CHECK(hone_cluster(&p, weights, NULL, &cl) == HONE_OK);
    info.struct_size = sizeof info;
    CHECK(hone_clustered_get_info(cl, &info) == HONE_OK);
    CHECK(info.bits == 2 && info.rows == 8 && info.cols == 30 && info.rows_per_group == 1);
    CHECK(info.groups == 8 && info.entries == 4 && info.codebook_dtype == HONE_DTYPE_F32);
    CHECK(info.bytes == (size_t)(8 * 8 + 8 * 4 * 4));
    CHECK(info.preserve_sparsity == 1 && info.sse > 0);
    CHECK(hone_clustered_clusters_used(cl, used, 8) == HONE_OK);
    for (g = 0; g < 8; ++g)
        CHECK(used[g] == 4);
    CHECK_FAILS(hone_clustered_clusters_used(cl, used, 7), HONE_ERROR_OUT_OF_RANGE, "capacity 7");
    {
        /* Export, then decode through the kernel ABI: the same values as dequantize. */
        const int64_t pk_dims[2] = {8, 8};
        const int64_t cb_dims[2] = {8, 4};
        const int64_t bad_dims[2] = {8, 5};
        hone_tensor* packed = create_tensor(HONE_DTYPE_U8, 2, pk_dims);
        hone_tensor* books = create_tensor(HONE_DTYPE_F32, 2, cb_dims);
        hone_tensor* bad = create_tensor(HONE_DTYPE_F32, 2, bad_dims);
        hone_tensor* decoded = create_tensor(HONE_DTYPE_F32, 2, w_dims);
        hone_tensor* deq = create_tensor(HONE_DTYPE_F32, 2, w_dims);
        hone_tensor* idx = create_tensor(HONE_DTYPE_U8, 2, w_dims);
        hone_palettized_params pp;
        const float* a;
        const float* b;
        const float* cb;
        const uint8_t* ix;
        CHECK(hone_clustered_export(cl, packed, books) == HONE_OK);
        CHECK(hone_clustered_export(cl, NULL, books) == HONE_OK);
        CHECK_FAILS(hone_clustered_export(cl, packed, bad), HONE_ERROR_SHAPE_MISMATCH,
                    "codebooks must be [8, 4]");
        hone_palettized_params_init(&pp);
        pp.bits = info.bits;
        pp.cols = info.cols;
        pp.rows_per_group = info.rows_per_group;
        CHECK(hone_palettized_decode(&pp, packed, books, decoded) == HONE_OK);
        CHECK(hone_clustered_dequantize(cl, deq) == HONE_OK);
        CHECK(hone_clustered_indices(cl, idx) == HONE_OK);
        CHECK_FAILS(hone_clustered_indices(cl, bad), HONE_ERROR_DTYPE_MISMATCH, "indices must be");
        CHECK_FAILS(hone_clustered_dequantize(cl, bad), HONE_ERROR_SHAPE_MISMATCH, "dst must be");
        a = (const float*)tensor_data(decoded);
        b = (const float*)tensor_data(deq);
        cb = (const float*)tensor_data(books);
        ix = (const uint8_t*)tensor_data(idx);
        for (i = 0; i < 240; ++i) {
            CHECK(a[i] == b[i]);
            CHECK(b[i] == cb[(i / 30) * 4 + ix[i]]);
            if (w[i] == 0.0f) CHECK(b[i] == 0.0f);
        }
        /* Fine-tuning hook: gradient sums per centroid, then an update. */
        {
            double sums[32];
            int64_t counts[32];
            int64_t total = 0;
            CHECK(hone_clustered_accumulate_gradient(cl, deq) == HONE_OK);
            CHECK(hone_clustered_gradient_sums(cl, sums, counts, 32) == HONE_OK);
            for (i = 0; i < 32; ++i)
                total += counts[i];
            CHECK(total == 240);
            CHECK_FAILS(hone_clustered_gradient_sums(cl, sums, counts, 31), HONE_ERROR_OUT_OF_RANGE,
                        "capacity 31");
            CHECK(hone_clustered_apply_gradient(cl, 0.5f, 1) == HONE_OK);
            CHECK(hone_clustered_dequantize(cl, decoded) == HONE_OK);
            /* Gradient = the weight itself, lr 0.5 averaged: every centroid halves. */
            for (i = 0; i < 240; ++i)
                CHECK(fabsf(a[i] - 0.5f * b[i]) <= 1e-7f);
            CHECK_FAILS(hone_clustered_apply_gradient(cl, NAN, 0), HONE_ERROR_INVALID_ARGUMENT,
                        "learning rate");
            CHECK_FAILS(hone_clustered_accumulate_gradient(cl, bad), HONE_ERROR_SHAPE_MISMATCH,
                        "gradient must be");
        }
        CHECK(hone_clustered_reassign(cl, weights) == HONE_OK);
        CHECK(hone_clustered_get_info(cl, &info) == HONE_OK);
        CHECK(info.sse > 0);
        CHECK_FAILS(hone_clustered_reassign(cl, bad), HONE_ERROR_SHAPE_MISMATCH, "weights must be");
        hone_tensor_destroy(packed);
        hone_tensor_destroy(books);
        hone_tensor_destroy(bad);
        hone_tensor_destroy(decoded);
        hone_tensor_destroy(deq);
        hone_tensor_destroy(idx);
    }
    hone_clustered_destroy(cl);
    hone_clustered_destroy(NULL);

    /* Per tensor, F16 codebooks, with importance; usable by hone_palettized_matmul. */
    {
        const int64_t x_dims[1] = {30};
        const int64_t y_dims[1] = {8};
        hone_tensor* imp = create_tensor(HONE_DTYPE_F32, 2, w_dims);
        hone_tensor* x = create_tensor(HONE_DTYPE_F32, 1, x_dims);
        hone_tensor* y = create_tensor(HONE_DTYPE_F32, 1, y_dims);
        float* iv = (float*)tensor_data(imp);
        hone_palettized_params pp;
        hone_tensor *packed, *books;
        const int64_t pk_dims[2] = {8, 15};
        const int64_t cb_dims[2] = {1, 16};
        for (i = 0; i < 240; ++i)
            iv[i] = 1.0f + (float)(i % 5);
        for (i = 0; i < 30; ++i)
            ((float*)tensor_data(x))[i] = 1.0f;
        hone_cluster_params_init(&p);
        p.codebook_dtype = HONE_DTYPE_F16;
        CHECK(hone_cluster(&p, weights, imp, &cl) == HONE_OK);
        info.struct_size = sizeof info;
        CHECK(hone_clustered_get_info(cl, &info) == HONE_OK);
        CHECK(info.bits == 4 && info.groups == 1 && info.codebook_dtype == HONE_DTYPE_F16);
        CHECK(info.bytes == (size_t)(8 * 15 + 16 * 2));
        packed = create_tensor(HONE_DTYPE_U8, 2, pk_dims);
        books = create_tensor(HONE_DTYPE_F16, 2, cb_dims);
        CHECK(hone_clustered_export(cl, packed, books) == HONE_OK);
        hone_palettized_params_init(&pp);
        pp.bits = 4;
        pp.cols = 30;
        pp.rows_per_group = info.rows_per_group;
        CHECK(hone_palettized_matmul(&pp, packed, books, x, NULL, y) == HONE_OK);
        hone_tensor_destroy(packed);
        hone_tensor_destroy(books);
        hone_clustered_destroy(cl);
        hone_tensor_destroy(imp);
        hone_tensor_destroy(x);
        hone_tensor_destroy(y);
    }

    /* Errors. */
    {
        const int64_t e_dims[2] = {0, 4};
        hone_tensor* empty = create_tensor(HONE_DTYPE_F32, 2, e_dims);
        hone_clustered* untouched = (hone_clustered*)&seed;
        hone_cluster_params_init(&p);
        p.clusters = 300;
        CHECK_FAILS(hone_cluster(&p, weights, NULL, &untouched), HONE_ERROR_INVALID_ARGUMENT,
                    "clusters = 300");
        CHECK(untouched == (hone_clustered*)&seed);
        p.clusters = 4;
        CHECK_FAILS(hone_cluster(&p, empty, NULL, &cl), HONE_ERROR_INVALID_ARGUMENT, "empty");
        w[7] = INFINITY;
        CHECK_FAILS(hone_cluster(&p, weights, NULL, &cl), HONE_ERROR_INVALID_ARGUMENT, "element 7");
        w[7] = 0;
        p.codebook_dtype = HONE_DTYPE_I8;
        CHECK_FAILS(hone_cluster(&p, weights, NULL, &cl), HONE_ERROR_DTYPE_MISMATCH,
                    "codebook_dtype");
        p.codebook_dtype = HONE_DTYPE_F32;
        p.granularity = (hone_cluster_granularity)9;
        CHECK_FAILS(hone_cluster(&p, weights, NULL, &cl), HONE_ERROR_INVALID_ARGUMENT,
                    "granularity 9");
        p.granularity = HONE_CLUSTER_PER_GROUP;
        p.group_size = 0;
        CHECK_FAILS(hone_cluster(&p, weights, NULL, &cl), HONE_ERROR_INVALID_ARGUMENT,
                    "group_size");
        p.struct_size = 4;
        CHECK_FAILS(hone_cluster(&p, weights, NULL, &cl), HONE_ERROR_INVALID_ARGUMENT,
                    "struct_size");
        CHECK_FAILS(hone_clustered_get_info(NULL, &info), HONE_ERROR_INVALID_ARGUMENT,
                    "'clustered' is NULL");
        hone_tensor_destroy(empty);
    }
    hone_tensor_destroy(weights);
}

int main(void) {
    test_kmeans1d();
    test_cluster();
    if (failures) fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
