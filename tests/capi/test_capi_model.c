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

/* Index of the first node whose path starts with `prefix`, or -1; *hits counts them all. */
static int find_path(const hone_executor* ex, const char* prefix, int* hits) {
    size_t n = 0, i;
    int first = -1;
    char path[256];
    *hits = 0;
    CHECK(hone_executor_node_count(ex, &n) == HONE_OK);
    for (i = 0; i < n; ++i) {
        CHECK(hone_executor_node_path(ex, i, path, sizeof path, NULL) == HONE_OK);
        if (strncmp(path, prefix, strlen(prefix)) == 0) {
            if (first < 0) first = (int)i;
            ++*hits;
        }
    }
    return first;
}

/* Runs `ex` on `input` and returns the output (NULL on failure). */
static hone_tensor* run1(const hone_executor* ex, const hone_tensor* input) {
    hone_tensor* out = NULL;
    CHECK(hone_executor_run(ex, &input, 1, &out, 1, NULL, NULL) == HONE_OK);
    return out;
}

static int same_tensor(const hone_tensor* a, const hone_tensor* b) {
    void *pa = NULL, *pb = NULL;
    size_t na = 0, nb = 0;
    if (!a || !b) return 0;
    CHECK(hone_tensor_data((hone_tensor*)a, &pa) == HONE_OK);
    CHECK(hone_tensor_data((hone_tensor*)b, &pb) == HONE_OK);
    CHECK(hone_tensor_nbytes(a, &na) == HONE_OK);
    CHECK(hone_tensor_nbytes(b, &nb) == HONE_OK);
    return na == nb && memcmp(pa, pb, na) == 0;
}

/* QDQ export (int8 with activation grids, int4 blocked at opset 21) and packed executor
 * weights (int4, palettized), with their error paths. */
static void qdq_and_packed(hone_model* model, const hone_tensor* input) {
    static const char* const layers[3] = {"fc1.weight", "fc2.weight", "fc3.weight"};
    hone_qdq_params qp;
    hone_model_info info = {.struct_size = sizeof(hone_model_info)};
    hone_model *qdq = NULL, *int4 = NULL, *loaded = NULL;
    hone_executor *ex = NULL, *internal = NULL, *folded = NULL;
    hone_executor_params ep;
    hone_quantizer_params qzp;
    hone_quantizer* qz = NULL;
    hone_quantized_tensor* q4[3] = {NULL, NULL, NULL};
    hone_cluster_params cp;
    hone_clustered* pal = NULL;
    hone_tensor *w = NULL, *a = NULL, *b = NULL;
    const hone_quantized_tensor* items[3];
    const hone_clustered* pals[1];
    const char* dup[2] = {"fc1.weight", "fc1.weight"};
    const char* act_names[1] = {"input"};
    float act_scale[1] = {0};
    int32_t act_zp[1] = {0};
    hone_dtype act_type[1] = {HONE_DTYPE_U8};
    const char* f32_nodes[1] = {"/fc3/Gemm"};
    char file[64];
    int hits = 0, i;
    float scale = 0;
    int32_t zp = -1;

    /* Activation grid of a range: [-1, 3] → scale 4/255, zero point 64. */
    CHECK(hone_qdq_activation_from_range(-1.0f, 3.0f, 0, &scale, &zp) == HONE_OK);
    CHECK(scale > 0.0156f && scale < 0.0157f && zp == 64);
    CHECK(hone_qdq_activation_from_range(0.0f, 2.0f, 1, &scale, &zp) == HONE_OK);
    CHECK(zp == 0 && scale > 0.01574f && scale < 0.01575f); /* 2 / 127 */
    CHECK_FAILS(hone_qdq_activation_from_range(2.0f, 1.0f, 0, &scale, &zp),
                HONE_ERROR_INVALID_ARGUMENT, "range");
    CHECK_FAILS(hone_qdq_activation_from_range(0.0f, 1.0f, 0, NULL, &zp),
                HONE_ERROR_INVALID_ARGUMENT, "scale");

    /* int8 per channel + the input's grid; fc3 left f32. */
    CHECK(hone_qdq_params_init(&qp) == HONE_OK);
    CHECK(qp.quantize_weights == 1 && qp.weight_spec.bits == 8 && qp.weight_count == 0);
    CHECK(qp.propagate_grids == 1 && qp.quantize_bias == 1 && qp.fold_batch_norm == 1);
    {
        /* The tensors the ONNX Runtime-fusable form grids: the input and each layer's output
           (after its Relu): input, /Relu_output_0, /Relu_1_output_0, logits. */
        static const char expected[] = "input\0/Relu_output_0\0/Relu_1_output_0\0logits\0";
        char list[128];
        const char* name;
        size_t grid_count = 0, needed = 0, again = 0, k;
        int untouched = 1;
        /* The size query: the names, each with its NUL, + the list's NUL (sizeof counts it). */
        CHECK(hone_model_qdq_activation_tensors(model, NULL, NULL, 0, &needed, &grid_count) ==
              HONE_ERROR_OUT_OF_RANGE);
        CHECK(needed == sizeof expected && grid_count == 4);
        grid_count = 0;
        memset(list, '#', sizeof list);
        CHECK_FAILS(
            hone_model_qdq_activation_tensors(model, &qp, list, needed - 1, &again, &grid_count),
            HONE_ERROR_OUT_OF_RANGE, "hone_model_qdq_activation_tensors");
        CHECK(again == needed && grid_count == 4);
        for (k = 0; k < sizeof list; ++k)
            untouched &= list[k] == '#';
        CHECK(untouched);
        CHECK(hone_model_qdq_activation_tensors(model, &qp, list, needed, NULL, NULL) == HONE_OK);
        CHECK(memcmp(list, expected, sizeof expected) == 0 && list[needed] == '#');
        /* Walking the list as a caller does: up to the empty name. */
        grid_count = 0;
        for (name = list; *name; name += strlen(name) + 1)
            ++grid_count;
        CHECK(grid_count == 4 && name == list + needed - 1);
        CHECK_FAILS(hone_model_qdq_activation_tensors(model, NULL, NULL, 1000, NULL, NULL),
                    HONE_ERROR_INVALID_ARGUMENT, "buffer");
    }
    CHECK(hone_qdq_activation_from_range(0.0f, 1.0f, 0, &act_scale[0], &act_zp[0]) == HONE_OK);
    qp.activation_names = act_names;
    qp.activation_scales = act_scale;
    qp.activation_zero_points = act_zp;
    qp.activation_types = act_type;
    qp.activation_count = 1;
    qp.f32_nodes = f32_nodes;
    qp.f32_node_count = 1;
    CHECK(hone_model_to_qdq(model, &qp, &qdq) == HONE_OK);
    CHECK(hone_model_get_info(qdq, &info) == HONE_OK);
    CHECK(info.opset == 13);
    /* + 2 weight DQs + the input's Q/DQ pair + fc1's int32 bias DQ (its input has a grid) */
    CHECK(info.node_count == 5 + 2 + 2 + 1);
    CHECK(hone_model_get_weight(qdq, "fc1.weight_quantized", &w) == HONE_OK);
    hone_tensor_destroy(w);
    w = NULL;
    CHECK(hone_model_get_weight(qdq, "fc3.weight", &w) == HONE_OK); /* untouched */
    hone_tensor_destroy(w);
    w = NULL;
    snprintf(file, sizeof file, "/tmp/hone_capi_qdq8_%d.onnx", (int)getpid());
    CHECK(hone_model_save_onnx(qdq, file, 0) == HONE_OK); /* passes onnx::checker */
    CHECK(hone_model_load_onnx(file, &loaded) == HONE_OK);
    remove(file);
    CHECK(hone_executor_params_init(&ep) == HONE_OK);
    ep.precision = HONE_PRECISION_INT8_STATIC;
    CHECK(hone_executor_create(loaded, &ep, &ex) == HONE_OK);
    CHECK(find_path(ex, "int8 QDQ linear", &hits) >= 0 && hits == 1);
    hone_executor_destroy(ex);
    ex = NULL;
    hone_model_destroy(loaded);
    loaded = NULL;
    hone_model_destroy(qdq);
    qdq = NULL;

    /* The other deployable forms: dynamic int8 (DynamicQuantizeLinear + MatMulInteger for the two
       int8 layers: 5 nodes each instead of Gemm, fc3 untouched) — and a bad form value. */
    qp.form = HONE_ONNX_DYNAMIC_INT8;
    CHECK(hone_model_to_qdq(model, &qp, &qdq) == HONE_OK);
    CHECK(hone_model_get_info(qdq, &info) == HONE_OK);
    CHECK(info.node_count > 5 + 2 * 3);
    CHECK(hone_model_get_weight(qdq, "fc1.weight_quantized", &w) == HONE_OK);
    hone_tensor_destroy(w);
    w = NULL;
    hone_model_destroy(qdq);
    qdq = NULL;
    qp.form = (hone_onnx_form)7;
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_INVALID_ARGUMENT, "form");
    CHECK(qdq == NULL);
    qp.form = HONE_ONNX_QDQ;

    /* int4 group-wise weights from the quantizer → opset-21 QDQ → save → load → int4 kernel,
     * equal to the executor given the same int4 weights directly. */
    CHECK(hone_quantizer_params_init(&qzp) == HONE_OK);
    qzp.spec.bits = 4;
    qzp.spec.granularity = HONE_QUANT_PER_GROUP;
    qzp.spec.group_size = 16;
    CHECK(hone_quantizer_create(&qzp, &qz) == HONE_OK);
    for (i = 0; i < 3; ++i) {
        CHECK(hone_model_get_weight(model, layers[i], &w) == HONE_OK);
        CHECK(hone_quantizer_run(qz, w, layers[i], NULL, NULL, &q4[i], NULL, NULL) == HONE_OK);
        hone_tensor_destroy(w);
        w = NULL;
        items[i] = q4[i];
    }
    CHECK(hone_qdq_params_init(&qp) == HONE_OK);
    qp.quantize_weights = 0;
    qp.weight_names = layers;
    qp.weights = items;
    qp.weight_count = 3;
    CHECK(hone_model_to_qdq(model, &qp, &int4) == HONE_OK);
    CHECK(hone_model_get_info(int4, &info) == HONE_OK);
    CHECK(info.opset == 21);
    {
        /* The same weights as com.microsoft.MatMulNBits: no DequantizeLinear left. */
        hone_model* nbits = NULL;
        hone_tensor* packed = NULL;
        qp.form = HONE_ONNX_MATMUL_NBITS;
        CHECK(hone_model_to_qdq(model, &qp, &nbits) == HONE_OK);
        CHECK(hone_model_get_info(nbits, &info) == HONE_OK);
        CHECK(info.node_count == 5);
        CHECK(hone_model_get_weight(nbits, "fc1.weight_quantized", &packed) != HONE_OK);
        hone_model_destroy(nbits);
        qp.form = HONE_ONNX_QDQ;
        CHECK(hone_model_get_info(int4, &info) == HONE_OK);
    }
    CHECK(hone_model_get_weight(int4, "fc1.weight_quantized", &w) == HONE_OK);
    {
        hone_dtype t = HONE_DTYPE_F32;
        size_t nb = 0;
        CHECK(hone_tensor_dtype(w, &t) == HONE_OK && t == HONE_DTYPE_I4);
        CHECK(hone_tensor_nbytes(w, &nb) == HONE_OK && nb == 256 * 784 / 2);
    }
    hone_tensor_destroy(w);
    w = NULL;
    snprintf(file, sizeof file, "/tmp/hone_capi_qdq4_%d.onnx", (int)getpid());
    CHECK(hone_model_save_onnx(int4, file, 0) == HONE_OK);
    CHECK(hone_model_load_onnx(file, &loaded) == HONE_OK);
    remove(file);
    CHECK(hone_model_get_info(loaded, &info) == HONE_OK);
    CHECK(info.source_opset == 21);
    CHECK(hone_executor_create(loaded, NULL, &ex) == HONE_OK);
    CHECK(find_path(ex, "int4 weight-only linear", &hits) >= 0 && hits == 3);
    CHECK(hone_executor_params_init(&ep) == HONE_OK);
    CHECK(ep.qdq_int4_kernel == 1);
    ep.qdq_int4_kernel = 0;
    CHECK(hone_executor_create(loaded, &ep, &folded) == HONE_OK);
    CHECK(find_path(folded, "int4 weight-only linear", &hits) < 0 && hits == 0);
    CHECK(hone_executor_params_init(&ep) == HONE_OK);
    ep.int4_names = layers;
    ep.int4_weights = items;
    ep.int4_count = 3;
    CHECK(hone_executor_create(model, &ep, &internal) == HONE_OK);
    CHECK(find_path(internal, "int4 weight-only linear", &hits) >= 0 && hits == 3);
    a = run1(ex, input);
    b = run1(internal, input);
    CHECK(same_tensor(a, b)); /* same integers, same kernel */
    hone_tensor_destroy(a);
    hone_tensor_destroy(b);
    hone_executor_destroy(internal);
    internal = NULL;

    /* A palettized fc2 (per channel, axis 0) next to the int4 fc1. */
    CHECK(hone_cluster_params_init(&cp) == HONE_OK);
    cp.clusters = 16;
    cp.granularity = HONE_CLUSTER_PER_CHANNEL;
    CHECK(hone_model_get_weight(model, "fc2.weight", &w) == HONE_OK);
    CHECK(hone_cluster(&cp, w, NULL, &pal) == HONE_OK);
    hone_tensor_destroy(w);
    w = NULL;
    pals[0] = pal;
    ep.int4_count = 1;
    ep.palettized_names = &layers[1];
    ep.palettized_weights = pals;
    ep.palettized_count = 1;
    CHECK(hone_executor_create(model, &ep, &internal) == HONE_OK);
    CHECK(find_path(internal, "palettized linear (4-bit", &hits) >= 0 && hits == 1);
    CHECK(find_path(internal, "int4 weight-only linear", &hits) >= 0 && hits == 1);
    a = run1(internal, input);
    CHECK(a != NULL);
    hone_tensor_destroy(a);
    hone_executor_destroy(internal);
    internal = NULL;

    /* Executor packed-weight errors. */
    CHECK(hone_executor_params_init(&ep) == HONE_OK);
    ep.int4_names = &layers[1];
    ep.int4_weights = items; /* fc1's [256, 784] for fc2 [128, 256] */
    ep.int4_count = 1;
    CHECK_FAILS(hone_executor_create(model, &ep, &internal), HONE_ERROR_SHAPE_MISMATCH,
                "fc2.weight");
    ep.int4_names = act_names; /* "input" is no layer's weight */
    CHECK_FAILS(hone_executor_create(model, &ep, &internal), HONE_ERROR_INVALID_ARGUMENT, "input");
    ep.int4_names = dup;
    ep.int4_count = 2;
    CHECK_FAILS(hone_executor_create(model, &ep, &internal), HONE_ERROR_INVALID_ARGUMENT, "twice");
    ep.int4_count = 1;
    ep.int4_weights = NULL;
    CHECK_FAILS(hone_executor_create(model, &ep, &internal), HONE_ERROR_INVALID_ARGUMENT,
                "int4_weights");
    ep.int4_count = 0;
    ep.palettized_names = layers;
    ep.palettized_weights = pals;
    ep.palettized_count = 1; /* fc2's codebooks for fc1 */
    CHECK_FAILS(hone_executor_create(model, &ep, &internal), HONE_ERROR_SHAPE_MISMATCH,
                "fc1.weight");
    pals[0] = NULL;
    CHECK_FAILS(hone_executor_create(model, &ep, &internal), HONE_ERROR_INVALID_ARGUMENT, "NULL");
    CHECK(internal == NULL);

    /* QDQ export errors. */
    CHECK(hone_qdq_params_init(&qp) == HONE_OK);
    qp.weight_spec.bits = 2; /* four per byte: no ONNX type */
    qp.weight_spec.granularity = HONE_QUANT_PER_GROUP;
    qp.weight_spec.group_size = 16;
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_UNSUPPORTED, "fc1.weight");
    CHECK(hone_qdq_params_init(&qp) == HONE_OK);
    qp.weight_spec.granularity = (hone_quant_granularity)5;
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_INVALID_ARGUMENT, "granularity");
    CHECK(hone_qdq_params_init(&qp) == HONE_OK);
    qp.weight_spec.struct_size = 0;
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_INVALID_ARGUMENT,
                "hone_quant_spec");
    CHECK(hone_qdq_params_init(&qp) == HONE_OK);
    qp.struct_size = 8;
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_INVALID_ARGUMENT,
                "hone_qdq_params");
    CHECK(hone_qdq_params_init(&qp) == HONE_OK);
    qp.weight_names = layers;
    qp.weights = items;
    qp.weight_count = 3;
    items[1] = q4[0]; /* fc1's shape given for fc2 */
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_SHAPE_MISMATCH, "fc2.weight");
    items[1] = NULL;
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_INVALID_ARGUMENT, "NULL");
    qp.weight_names = dup;
    qp.weight_count = 2;
    items[1] = q4[1];
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_INVALID_ARGUMENT, "twice");
    CHECK(hone_qdq_params_init(&qp) == HONE_OK);
    qp.activation_count = 1;
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_INVALID_ARGUMENT,
                "activation_names");
    qp.activation_names = act_names;
    qp.activation_scales = act_scale;
    qp.activation_zero_points = act_zp;
    act_zp[0] = 300; /* outside u8 */
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_INVALID_ARGUMENT, "input");
    act_zp[0] = 0;
    act_type[0] = HONE_DTYPE_F32;
    qp.activation_types = act_type;
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_INVALID_ARGUMENT,
                "activation_types");
    act_type[0] = HONE_DTYPE_I8;
    act_scale[0] = -1.0f;
    CHECK_FAILS(hone_model_to_qdq(model, &qp, &qdq), HONE_ERROR_INVALID_ARGUMENT, "scale");
    CHECK(qdq == NULL);
    CHECK_FAILS(hone_model_to_qdq(NULL, NULL, &qdq), HONE_ERROR_INVALID_ARGUMENT, "model");
    CHECK_FAILS(hone_model_to_qdq(model, NULL, NULL), HONE_ERROR_INVALID_ARGUMENT, "out");
    CHECK(hone_qdq_params_init(NULL) == HONE_ERROR_INVALID_ARGUMENT);
    /* Defaults (NULL params): every layer int8 per channel. */
    CHECK(hone_model_to_qdq(model, NULL, &qdq) == HONE_OK);
    CHECK(hone_model_get_info(qdq, &info) == HONE_OK);
    CHECK(info.node_count == 5 + 3);

    hone_model_destroy(qdq);
    hone_executor_destroy(folded);
    hone_executor_destroy(ex);
    hone_model_destroy(loaded);
    hone_model_destroy(int4);
    hone_clustered_destroy(pal);
    for (i = 0; i < 3; ++i)
        hone_quantized_tensor_destroy(q4[i]);
    hone_quantizer_destroy(qz);
}

int main(void) {
    hone_model* model = NULL;
    hone_model* again = NULL;
    hone_model_info info = {.struct_size = sizeof(hone_model_info)};
    char name[64];
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
    char node[64], op[64], path[256];
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
    {
        /* Output structs are versioned: a short struct_size is refused, nothing written. */
        hone_model_info short_info = {.struct_size = 8};
        CHECK_FAILS(hone_model_get_info(model, &short_info), HONE_ERROR_INVALID_ARGUMENT,
                    "hone_model_info.struct_size is 8");
        CHECK(short_info.node_count == 0);
    }
    CHECK(hone_model_get_info(model, &info) == HONE_OK);
    CHECK(info.struct_size == sizeof info);
    CHECK(info.node_count == 5);
    CHECK(info.input_count == 1 && info.output_count == 1 && info.weight_count == 6);
    CHECK(info.opset == 13 && info.source_opset == 13);
    CHECK(info.weight_bytes == 235146u * 4u);
    CHECK(strcmp(info.producer_name, "pytorch") == 0);

    CHECK(hone_model_value(model, HONE_VALUE_INPUT, 0, &dtype, &rank, dims, 4) == HONE_OK);
    CHECK(dtype == HONE_DTYPE_F32 && rank == 2);
    CHECK(dims[0] == -1 && dims[1] == 784);
    CHECK_STRING(name, hone_model_value_name, model, HONE_VALUE_INPUT, 0);
    CHECK(strcmp(name, "input") == 0);
    CHECK(hone_model_value(model, HONE_VALUE_OUTPUT, 0, NULL, &rank, dims, 4) == HONE_OK);
    CHECK(rank == 2 && dims[1] == 10);
    CHECK_STRING(name, hone_model_value_name, model, HONE_VALUE_OUTPUT, 0);
    CHECK(strcmp(name, "logits") == 0);
    {
        /* Weights in ascending name order. */
        static const char* const weights[6] = {"fc1.bias",   "fc1.weight", "fc2.bias",
                                               "fc2.weight", "fc3.bias",   "fc3.weight"};
        for (i = 0; i < info.weight_count && i < 6; ++i) {
            CHECK_STRING(name, hone_model_value_name, model, HONE_VALUE_WEIGHT, i);
            CHECK(strcmp(name, weights[i]) == 0);
        }
    }
    CHECK(hone_model_value(model, HONE_VALUE_WEIGHT, 1, &dtype, &rank, dims, 4) == HONE_OK);
    CHECK(dtype == HONE_DTYPE_F32 && rank == 2 && dims[0] == 256 && dims[1] == 784);
    CHECK_FAILS(hone_model_value(model, HONE_VALUE_WEIGHT, 6, NULL, NULL, NULL, 0),
                HONE_ERROR_OUT_OF_RANGE, "6");
    CHECK_FAILS(hone_model_value_name(model, HONE_VALUE_WEIGHT, 6, name, sizeof name, NULL),
                HONE_ERROR_OUT_OF_RANGE, "index 6");
    CHECK_FAILS(hone_model_value_name(model, HONE_VALUE_OUTPUT, 1, name, sizeof name, NULL),
                HONE_ERROR_OUT_OF_RANGE, "index 1");
    CHECK_FAILS(hone_model_value(model, (hone_value_kind)9, 0, NULL, NULL, NULL, 0),
                HONE_ERROR_INVALID_ARGUMENT, "kind");
    CHECK_FAILS(hone_model_value_name(model, (hone_value_kind)9, 0, name, sizeof name, NULL),
                HONE_ERROR_INVALID_ARGUMENT, "kind");
    CHECK_FAILS(hone_model_value(model, HONE_VALUE_INPUT, 0, NULL, NULL, dims, 1),
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
    CHECK_STRING(node, hone_executor_node_name, ex, 0);
    CHECK_STRING(op, hone_executor_node_op_type, ex, 0);
    CHECK_STRING(path, hone_executor_node_path, ex, 0);
    CHECK(strcmp(node, "/fc1/Gemm") == 0 && strcmp(op, "Gemm") == 0);
    CHECK(strncmp(path, "f32 linear (oneDNN)", 19) == 0);
    CHECK_STRING(node, hone_executor_node_name, ex, 1);
    CHECK_STRING(op, hone_executor_node_op_type, ex, 1);
    CHECK_STRING(path, hone_executor_node_path, ex, 1);
    CHECK(strcmp(node, "/Relu") == 0 && strcmp(op, "Relu") == 0);
    CHECK(strncmp(path, "fused into Gemm", 15) == 0);
    CHECK_FAILS(hone_executor_node_name(ex, 5, node, sizeof node, NULL), HONE_ERROR_OUT_OF_RANGE,
                "index 5");
    CHECK_FAILS(hone_executor_node_op_type(ex, 5, op, sizeof op, NULL), HONE_ERROR_OUT_OF_RANGE,
                "index 5");
    CHECK_FAILS(hone_executor_node_path(ex, 5, path, sizeof path, NULL), HONE_ERROR_OUT_OF_RANGE,
                "index 5");

    /* int8 dynamic; keep a fused-away value observable. */
    CHECK(hone_executor_params_init(&ep) == HONE_OK);
    CHECK(ep.fold_constants == 1 && ep.reduce_range == -1 && ep.precision == HONE_PRECISION_F32);
    ep.precision = HONE_PRECISION_INT8_DYNAMIC;
    ep.fuse_relu = 0;
    CHECK(hone_executor_create(model, &ep, &q) == HONE_OK);
    CHECK(hone_executor_node_path(q, 0, path, sizeof path, NULL) == HONE_OK);
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

    qdq_and_packed(model, input);

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
