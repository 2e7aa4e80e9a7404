/* Models and the graph executor through the C ABI: load/save ONNX, list inputs, outputs and
 * weights, run (f32 and int8), observe activations, node paths, runner params, errors. */
#define _POSIX_C_SOURCE 200809L
#include <hone/hone.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static char fixture[8192];

/* <source>/tests/fixtures/fashion_mnist/mlp.onnx, found upwards from the executable. */
static int find_fixture(void) {
    char dir[4096];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    const char* env = getenv("HONE_FIXTURES");
    if (env) {
        snprintf(fixture, sizeof fixture, "%s/fashion_mnist/mlp.onnx", env);
        return access(fixture, R_OK) == 0;
    }
    if (n <= 0) return 0;
    dir[n] = '\0';
    for (;;) {
        char* slash = strrchr(dir, '/');
        if (!slash) return 0;
        *slash = '\0';
        snprintf(fixture, sizeof fixture, "%s/tests/fixtures/fashion_mnist/mlp.onnx", dir);
        if (access(fixture, R_OK) == 0) return 1;
        if (dir[0] == '\0') return 0;
    }
}

typedef struct seen {
    int calls;
    int stop_at; /* return an error on this call (1-based); 0 = never */
    char last[256];
} seen;

static hone_status observe(void* user, const char* name, const hone_tensor* value) {
    seen* s = (seen*)user;
    int64_t dims[2] = {0, 0};
    ++s->calls;
    strncpy(s->last, name, sizeof s->last - 1);
    hone_tensor_shape(value, dims, 2);
    if (dims[0] != 2) return HONE_ERROR_SHAPE_MISMATCH;
    return s->calls == s->stop_at ? HONE_ERROR_UNSUPPORTED : HONE_OK;
}

int main(void) {
    hone_model* model = NULL;
    hone_model* again = NULL;
    hone_model_info info;
    const char* name = NULL;
    hone_dtype dtype = HONE_DTYPE_I8;
    size_t rank = 0, count = 0, i;
    int64_t dims[4];
    hone_tensor* weight = NULL;
    hone_tensor* weight2 = NULL;
    hone_tensor* input = NULL;
    hone_tensor* output = NULL;
    hone_tensor* outs[2] = {NULL, NULL};
    hone_tensor_params tp;
    hone_executor* ex = NULL;
    hone_executor* q = NULL;
    hone_executor_params ep;
    hone_runner_params rp;
    hone_runner* runner = NULL;
    const char *node = NULL, *op = NULL, *path = NULL;
    seen s;
    void* data = NULL;
    void* data2 = NULL;
    size_t bytes = 0;
    int64_t in_dims[2] = {2, 784};
    char saved[64];

    if (!find_fixture()) {
        fprintf(stderr, "mlp.onnx fixture not found\n");
        return 1;
    }
    CHECK(hone_model_load_onnx(fixture, &model) == HONE_OK);
    CHECK(hone_model_get_info(model, &info) == HONE_OK);
    CHECK(info.node_count == 5);
    CHECK(info.input_count == 1 && info.output_count == 1 && info.weight_count == 6);
    CHECK(info.opset == 13 && info.source_opset == 13);
    CHECK(info.weight_bytes == 235146u * 4u);
    CHECK(strcmp(info.producer_name, "pytorch") == 0);

    CHECK(hone_model_value(model, HONE_VALUE_INPUT, 0, &name, &dtype, &rank, dims, 4) == HONE_OK);
    CHECK(strcmp(name, "input") == 0 && dtype == HONE_DTYPE_F32 && rank == 2);
    CHECK(dims[0] == -1 && dims[1] == 784);
    CHECK(hone_model_value(model, HONE_VALUE_OUTPUT, 0, &name, NULL, &rank, dims, 4) == HONE_OK);
    CHECK(strcmp(name, "logits") == 0 && dims[1] == 10);
    count = 0;
    for (i = 0; i < info.weight_count; ++i) {
        CHECK(hone_model_value(model, HONE_VALUE_WEIGHT, i, &name, &dtype, &rank, dims, 4) ==
              HONE_OK);
        if (strcmp(name, "fc1.weight") == 0) {
            CHECK(rank == 2 && dims[0] == 256 && dims[1] == 784);
            ++count;
        }
    }
    CHECK(count == 1);
    CHECK_FAILS(hone_model_value(model, HONE_VALUE_WEIGHT, 6, &name, NULL, NULL, NULL, 0),
                HONE_ERROR_OUT_OF_RANGE, "6");
    CHECK_FAILS(hone_model_value(model, (hone_value_kind)9, 0, &name, NULL, NULL, NULL, 0),
                HONE_ERROR_INVALID_ARGUMENT, "kind");
    CHECK_FAILS(hone_model_value(model, HONE_VALUE_INPUT, 0, &name, NULL, NULL, dims, 1),
                HONE_ERROR_OUT_OF_RANGE, "capacity");

    /* Weights by name; replace one; save → load gives it back bit-exactly. */
    CHECK(hone_model_get_weight(model, "fc3.bias", &weight) == HONE_OK);
    CHECK(hone_tensor_data(weight, &data) == HONE_OK);
    ((float*)data)[0] = 42.5f;
    CHECK(hone_model_set_weight(model, "fc3.bias", weight) == HONE_OK);
    CHECK_FAILS(hone_model_get_weight(model, "nope", &weight2), HONE_ERROR_NOT_FOUND, "nope");
    snprintf(saved, sizeof saved, "/tmp/hone_capi_model_%d.onnx", (int)getpid());
    CHECK(hone_model_save_onnx(model, saved, 0) == HONE_OK);
    CHECK(hone_model_load_onnx(saved, &again) == HONE_OK);
    CHECK(hone_model_get_weight(again, "fc3.bias", &weight2) == HONE_OK);
    CHECK(hone_tensor_data(weight2, &data2) == HONE_OK);
    CHECK(hone_tensor_nbytes(weight2, &bytes) == HONE_OK);
    CHECK(bytes == 40 && memcmp(data, data2, bytes) == 0);
    remove(saved);
    hone_tensor_destroy(weight2);
    hone_model_destroy(again);

    /* Run: zeros in → the biases out (first layer's bias through two ReLU layers). */
    CHECK(hone_executor_create(model, NULL, &ex) == HONE_OK);
    hone_tensor_params_init(&tp);
    tp.rank = 2;
    tp.dims = in_dims;
    CHECK(hone_tensor_create(&tp, &input) == HONE_OK);
    memset(&s, 0, sizeof s);
    CHECK(hone_executor_run(ex, (const hone_tensor* const*)&input, 1, &output, 1, observe, &s) ==
          HONE_OK);
    CHECK(s.calls == 3);
    CHECK(strcmp(s.last, "logits") == 0);
    CHECK(hone_tensor_shape(output, dims, 4) == HONE_OK);
    CHECK(dims[0] == 2 && dims[1] == 10);
    hone_tensor_destroy(output);
    output = NULL;
    /* The observer can stop a run. */
    memset(&s, 0, sizeof s);
    s.stop_at = 2;
    CHECK_FAILS(
        hone_executor_run(ex, (const hone_tensor* const*)&input, 1, &output, 1, observe, &s),
        HONE_ERROR_UNSUPPORTED, "observer");
    CHECK(output == NULL);
    CHECK_FAILS(hone_executor_run(ex, (const hone_tensor* const*)&input, 1, outs, 2, NULL, NULL),
                HONE_ERROR_INVALID_ARGUMENT, "output_count");
    CHECK_FAILS(hone_executor_run(ex, NULL, 0, outs, 1, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "inputs");

    CHECK(hone_executor_node_count(ex, &count) == HONE_OK);
    CHECK(count == 5);
    CHECK(hone_executor_node_path(ex, 0, &node, &op, &path) == HONE_OK);
    CHECK(strcmp(op, "Gemm") == 0 && strncmp(path, "f32 linear", 10) == 0);
    CHECK(hone_executor_node_path(ex, 1, &node, &op, &path) == HONE_OK);
    CHECK(strcmp(op, "Relu") == 0 && strncmp(path, "fused into Gemm", 15) == 0);
    CHECK_FAILS(hone_executor_node_path(ex, 5, &node, &op, &path), HONE_ERROR_OUT_OF_RANGE, "5");

    /* int8 dynamic; keep a fused-away value observable. */
    CHECK(hone_executor_params_init(&ep) == HONE_OK);
    CHECK(ep.fold_constants == 1 && ep.reduce_range == -1 && ep.precision == HONE_PRECISION_F32);
    ep.precision = HONE_PRECISION_INT8_DYNAMIC;
    ep.fuse_relu = 0;
    CHECK(hone_executor_create(model, &ep, &q) == HONE_OK);
    CHECK(hone_executor_node_path(q, 0, &node, &op, &path) == HONE_OK);
    CHECK(strncmp(path, "int8 dynamic linear", 19) == 0);
    memset(&s, 0, sizeof s);
    CHECK(hone_executor_run(q, (const hone_tensor* const*)&input, 1, &output, 1, observe, &s) ==
          HONE_OK);
    CHECK(s.calls == 5);
    hone_tensor_destroy(output);
    output = NULL;

    /* A validation runner over the executor. */
    CHECK(hone_runner_params_init(&rp) == HONE_OK);
    CHECK(hone_executor_runner_params(q, &rp) == HONE_OK);
    CHECK(rp.int8 == 1 && rp.ops_per_sample > 4e5 && rp.model_bytes > 0);
    CHECK(hone_runner_create(&rp, &runner) == HONE_OK);
    hone_runner_destroy(runner);

    /* Bad parameters. */
    ep.precision = (hone_precision)7;
    CHECK_FAILS(hone_executor_create(model, &ep, &q), HONE_ERROR_INVALID_ARGUMENT, "precision");
    ep.struct_size = 0;
    CHECK(hone_executor_create(model, &ep, &q) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK_FAILS(hone_model_load_onnx("/nonexistent/x.onnx", &again), HONE_ERROR_IO, "x.onnx");
    CHECK_FAILS(hone_model_load_onnx(NULL, &again), HONE_ERROR_INVALID_ARGUMENT, "path");
    CHECK(hone_model_get_info(NULL, &info) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_executor_create(NULL, NULL, &q) == HONE_ERROR_INVALID_ARGUMENT);

    hone_executor_destroy(q);
    hone_executor_destroy(ex);
    hone_executor_destroy(NULL);
    hone_tensor_destroy(input);
    hone_tensor_destroy(weight);
    hone_model_destroy(model);
    hone_model_destroy(NULL);
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
