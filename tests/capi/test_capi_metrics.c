/* Metrics through the C ABI: the classification collector and per-layer error, with errors. */
#include <hone/hone.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static hone_tensor* wrap(float* data, int64_t rows, int64_t cols) {
    const int64_t dims[2] = {rows, cols};
    hone_tensor_params p;
    hone_tensor* t = NULL;
    hone_tensor_params_init(&p);
    p.rank = 2;
    p.dims = dims;
    CHECK(hone_tensor_wrap(&p, data, (size_t)(rows * cols) * sizeof(float), &t) == HONE_OK);
    return t;
}

int main(void) {
    /* 4 samples, 3 classes: top-1 = 0, 1, 2, 0; labels 0, 1, 1, 0 → accuracy 3/4. */
    float logits[12] = {3, 1, 0, 0, 2, 1, 0, 1, 5, 9, 0, 0};
    float base[12] = {3, 1, 0, 0, 2, 1, 0, 5, 1, 9, 0, 0}; /* the baseline says 1 on sample 2 */
    const int64_t labels[4] = {0, 1, 1, 0};
    const uint32_t second_half[2] = {2, 3};
    hone_metric_collector_params mp;
    hone_metric_collector* mc = NULL;
    hone_classification_summary s = {.struct_size = sizeof(hone_classification_summary)};
    hone_tensor *out = wrap(logits, 4, 3), *ref = wrap(base, 4, 3), *short_ref = wrap(base, 2, 3);
    hone_layer_errors* le = NULL;
    hone_layer_error_info info = {.struct_size = sizeof(hone_layer_error_info)};
    size_t count = 0;
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 5}, nan_data[4] = {1, 2, 3, 0};
    hone_tensor *ta = wrap(a, 2, 2), *tb = wrap(b, 2, 2), *tn = NULL;

    CHECK(hone_metric_collector_params_init(&mp) == HONE_OK);
    CHECK(mp.top_k == 5);
    mp.top_k = 2;
    CHECK(hone_metric_collector_create(&mp, &mc) == HONE_OK);
    CHECK(hone_metric_collector_add(mc, out, labels, 4, ref) == HONE_OK);
    CHECK(hone_metric_collector_summary(mc, NULL, 0, &s) == HONE_OK);
    CHECK(s.samples == 4);
    CHECK(s.has_labels && s.has_reference);
    CHECK(fabs(s.accuracy - 0.75) < 1e-12);
    CHECK(fabs(s.top_k_accuracy - 1.0) < 1e-12); /* sample 2: label 1 is second best */
    CHECK(fabs(s.agreement - 0.75) < 1e-12);
    CHECK(hone_metric_collector_summary(mc, second_half, 2, &s) == HONE_OK);
    CHECK(s.samples == 2);
    CHECK(fabs(s.accuracy - 0.5) < 1e-12);
    CHECK_FAILS(hone_metric_collector_add(mc, out, labels, 4, short_ref), HONE_ERROR_SHAPE_MISMATCH,
                "hone_metric_collector_add");
    CHECK_FAILS(hone_metric_collector_add(mc, out, NULL, 4, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "labels");
    mp.top_k = 0;
    CHECK_FAILS(hone_metric_collector_create(&mp, &mc), HONE_ERROR_INVALID_ARGUMENT, "top_k");
    CHECK_FAILS(hone_metric_collector_summary(NULL, NULL, 0, &s), HONE_ERROR_INVALID_ARGUMENT,
                "collector");
    hone_metric_collector_destroy(mc);
    hone_metric_collector_destroy(NULL);

    CHECK(hone_layer_errors_create(&le) == HONE_OK);
    CHECK(hone_layer_errors_add(le, "fc1", ta, tb) == HONE_OK);
    CHECK(hone_layer_errors_count(le, &count) == HONE_OK);
    CHECK(count == 1);
    CHECK(hone_layer_errors_get(le, 0, &info) == HONE_OK);
    CHECK(strcmp(info.name, "fc1") == 0);
    CHECK(info.elements == 4);
    CHECK(fabs(info.sqnr_db - 10 * log10(30.0)) < 1e-9);
    CHECK(fabs(info.mse - 0.25) < 1e-12);
    CHECK(info.max_abs_error == 1.0);
    CHECK_FAILS(hone_layer_errors_get(le, 1, &info), HONE_ERROR_OUT_OF_RANGE, "index 1");
    nan_data[3] = (float)NAN;
    tn = wrap(nan_data, 2, 2);
    CHECK_FAILS(hone_layer_errors_add(le, "fc2", ta, tn), HONE_ERROR_INVALID_ARGUMENT, "fc2");
    CHECK_FAILS(hone_layer_errors_add(le, NULL, ta, tb), HONE_ERROR_INVALID_ARGUMENT, "name");
    hone_layer_errors_destroy(le);
    hone_layer_errors_destroy(NULL);

    hone_tensor_destroy(out);
    hone_tensor_destroy(ref);
    hone_tensor_destroy(short_ref);
    hone_tensor_destroy(ta);
    hone_tensor_destroy(tb);
    hone_tensor_destroy(tn);
    return failures ? 1 : 0;
}
