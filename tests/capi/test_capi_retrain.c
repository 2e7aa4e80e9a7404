/* Fine-tuning through the C ABI: start a prune-aware distillation run on the MLP fixture, step
 * it with a progress callback (loss falls, the callback can stop it), evaluate, finish (the
 * written model keeps the pruned zeros), cluster-aware, QAT and LSQ-QAT runs, layer-wise
 * distillation, next-token fine-tuning of the language-model fixture, an older struct_size, and
 * the error paths. */
#define _POSIX_C_SOURCE 200809L
#include <hone/hone.h>

#include <math.h>
#include <stddef.h>
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

typedef struct record {
    int calls;
    int stop_at; /* return 0 on this call (1-based); 0 = never */
    double first_loss, last_loss;
    int64_t last_step, total;
} record;

static int on_progress(void* user, const hone_train_progress* p) {
    record* r = (record*)user;
    CHECK(p->struct_size == sizeof(hone_train_progress));
    ++r->calls;
    if (r->calls == 1) r->first_loss = p->loss;
    r->last_loss = p->loss;
    r->last_step = p->step;
    r->total = p->total_steps;
    return r->calls == r->stop_at ? 0 : 1;
}

enum { N = 256, D = 784 };
static float pixels[N * D];
static int64_t labels[N];

static void fill(void) {
    unsigned s = 12345u;
    int i;
    for (i = 0; i < N * D; ++i) {
        s = s * 1664525u + 1013904223u;
        pixels[i] = (float)(s >> 8) / 16777216.0f;
    }
    for (i = 0; i < N; ++i)
        labels[i] = i % 10;
}

static hone_tensor* wrap_inputs(void) {
    hone_tensor_params p;
    hone_tensor* t = NULL;
    const int64_t dims[2] = {N, D};
    hone_tensor_params_init(&p);
    p.dtype = HONE_DTYPE_F32;
    p.rank = 2;
    p.dims = dims;
    if (hone_tensor_wrap(&p, pixels, sizeof pixels, &t) != HONE_OK) return NULL;
    return t;
}

static int run_to_end(hone_finetune* run);

/* Next-token fine-tuning of tests/fixtures/lm/model.onnx (beside the MLP's folder) on 8 rows of
 * byte tokens of one sentence: the loss falls. */
static void next_token_run(void) {
    static const char text[] = "In the beginning God created the heaven and the earth. And the "
                               "earth was without form, and void; and darkness was upon the face";
    enum { ROWS = 8, T = 32 };
    static int64_t tokens[ROWS * T];
    char lm[8192];
    char* cut = strstr(fixture, "fashion_mnist/mlp.onnx");
    hone_tensor_params tp;
    hone_tensor* x = NULL;
    hone_finetune_params p;
    hone_finetune* run = NULL;
    record rec;
    const int64_t dims[2] = {ROWS, T};
    int r, c;
    CHECK(cut != NULL);
    if (!cut) return;
    snprintf(lm, sizeof lm, "%.*slm/model.onnx", (int)(cut - fixture), fixture);
    for (r = 0; r < ROWS; ++r)
        for (c = 0; c < T; ++c)
            tokens[r * T + c] = (unsigned char)text[(size_t)(r * 7 + c) % (sizeof text - 1)];
    hone_tensor_params_init(&tp);
    tp.dtype = HONE_DTYPE_I64;
    tp.rank = 2;
    tp.dims = dims;
    CHECK(hone_tensor_wrap(&tp, tokens, sizeof tokens, &x) == HONE_OK);
    hone_finetune_params_init(&p);
    memset(&rec, 0, sizeof rec);
    p.model_path = lm;
    p.loss = HONE_LOSS_NEXT_TOKEN;
    p.optimizer = HONE_OPTIMIZER_ADAMW;
    p.learning_rate = 3e-3f;
    p.batch_size = 4;
    p.epochs = 3;
    p.progress = on_progress;
    p.user = &rec;
    CHECK(hone_finetune_start(&p, x, NULL, 0, &run) == HONE_OK);
    CHECK(run_to_end(run) == 6);
    CHECK(rec.last_loss < rec.first_loss);
    hone_finetune_destroy(run);
    hone_tensor_destroy(x);
}

static int run_to_end(hone_finetune* run) {
    int done = 0, steps = 0;
    while (!done) {
        if (hone_finetune_step(run, &done) != HONE_OK) return -1;
        steps += !done;
    }
    return steps;
}

int main(void) {
    hone_finetune_params p;
    hone_finetune* run = NULL;
    hone_tensor* x;
    hone_model* saved = NULL;
    hone_tensor* w = NULL;
    record rec;
    double acc = -1;
    int done = 0, i, zeros = 0;
    char out[256];
    float* data = NULL;

    if (!find_fixture()) {
        fprintf(stderr, "mlp.onnx fixture not found\n");
        return 1;
    }
    fill();
    x = wrap_inputs();
    CHECK(x != NULL);

    /* prune-aware distillation from the model itself, unlabeled data */
    CHECK(hone_finetune_params_init(&p) == HONE_OK);
    CHECK(p.struct_size == sizeof p && p.epochs == 1 && p.batch_size == 64);
    memset(&rec, 0, sizeof rec);
    p.model_path = fixture;
    p.loss = HONE_LOSS_DISTILLATION;
    p.prune_sparsity = 0.75;
    p.batch_size = 32;
    p.epochs = 2;
    p.learning_rate = 0.005f;
    p.progress = on_progress;
    p.user = &rec;
    CHECK(hone_finetune_start(&p, x, NULL, 0, &run) == HONE_OK);
    CHECK(run_to_end(run) == 16);
    CHECK(rec.calls == 16 && rec.last_step == 16 && rec.total == 16);
    CHECK(rec.last_loss < rec.first_loss);
    CHECK(hone_finetune_step(run, &done) == HONE_OK && done == 1);
    CHECK(hone_finetune_evaluate(run, x, labels, N, &acc) == HONE_OK);
    CHECK(acc >= 0.0 && acc <= 1.0);
    snprintf(out, sizeof out, "/tmp/hone_capi_retrain_%d.onnx", (int)getpid());
    CHECK(hone_finetune_finish(run, out) == HONE_OK);
    hone_finetune_destroy(run);
    run = NULL;
    CHECK(hone_model_load_onnx(out, &saved) == HONE_OK);
    CHECK(hone_model_get_weight(saved, "fc1.weight", &w) == HONE_OK);
    if (w) {
        CHECK(hone_tensor_data(w, (void**)&data) == HONE_OK);
        for (i = 0; data && i < 256 * 784; ++i)
            zeros += data[i] == 0.0f;
        CHECK(zeros == 150528); /* 75% of 256·784, exactly */
        hone_tensor_destroy(w);
    }
    hone_model_destroy(saved);
    remove(out);

    /* the callback stops a labelled run; cluster-aware */
    hone_finetune_params_init(&p);
    memset(&rec, 0, sizeof rec);
    rec.stop_at = 3;
    p.model_path = fixture;
    p.cluster_count = 16;
    p.learning_rate = 1e-4f;
    p.momentum = 0.0f;
    p.progress = on_progress;
    p.user = &rec;
    CHECK(hone_finetune_start(&p, x, labels, N, &run) == HONE_OK);
    CHECK(run_to_end(run) == 3);
    CHECK(rec.calls == 3);
    hone_finetune_destroy(run);
    run = NULL;

    /* QAT int4 weights + 8-bit activations */
    hone_finetune_params_init(&p);
    p.model_path = fixture;
    p.weight_bits = 4;
    p.activation_bits = 8;
    p.optimizer = HONE_OPTIMIZER_ADAMW;
    p.learning_rate = 1e-4f;
    p.schedule = HONE_LR_COSINE;
    CHECK(hone_finetune_start(&p, x, labels, N, &run) == HONE_OK);
    CHECK(run_to_end(run) == 4);
    hone_finetune_destroy(run);
    run = NULL;

    /* LSQ: int4 per-channel QAT with learned scales; the written weights keep ≤ 16 values a row
     * (the trained scale times the integers) */
    hone_finetune_params_init(&p);
    CHECK(p.learned_scales == 0);
    p.model_path = fixture;
    p.weight_bits = 4;
    p.learned_scales = 1;
    p.optimizer = HONE_OPTIMIZER_ADAMW;
    p.learning_rate = 1e-3f;
    memset(&rec, 0, sizeof rec);
    p.progress = on_progress;
    p.user = &rec;
    CHECK(hone_finetune_start(&p, x, labels, N, &run) == HONE_OK);
    CHECK(run_to_end(run) == 4);
    CHECK(rec.calls == 4 && isfinite(rec.last_loss));
    snprintf(out, sizeof out, "/tmp/hone_capi_retrain_lsq_%d.onnx", (int)getpid());
    CHECK(hone_finetune_finish(run, out) == HONE_OK);
    hone_finetune_destroy(run);
    run = NULL;
    CHECK(hone_model_load_onnx(out, &saved) == HONE_OK);
    w = NULL;
    CHECK(hone_model_get_weight(saved, "fc2.weight", &w) == HONE_OK);
    if (w) {
        int row, distinct_ok = 1;
        data = NULL;
        CHECK(hone_tensor_data(w, (void**)&data) == HONE_OK);
        for (row = 0; data && row < 128; ++row) {
            float seen[16];
            int count = 0, k, j;
            for (k = 0; k < 256 && count <= 16; ++k) {
                const float v = data[row * 256 + k];
                for (j = 0; j < count && seen[j] != v; ++j)
                    ;
                if (j == count) {
                    if (count == 16) {
                        count = 17;
                        break;
                    }
                    seen[count++] = v;
                }
            }
            if (count > 16) distinct_ok = 0;
        }
        CHECK(distinct_ok);
        hone_tensor_destroy(w);
    }
    hone_model_destroy(saved);
    remove(out);

    /* an older caller (struct without learned_scales) is accepted and gets RTN fake quant */
    hone_finetune_params_init(&p);
    p.struct_size = offsetof(hone_finetune_params, learned_scales);
    p.model_path = fixture;
    p.weight_bits = 4;
    p.learned_scales = 77; /* beyond the caller's struct: not read */
    CHECK(hone_finetune_start(&p, x, labels, N, &run) == HONE_OK);
    hone_finetune_destroy(run);
    run = NULL;

    /* the model (and teacher) as handles instead of paths: the handle is copied at start */
    {
        hone_model* handle = NULL;
        int done = 0;
        CHECK(hone_model_load_onnx(fixture, &handle) == HONE_OK);
        hone_finetune_params_init(&p);
        p.model = handle;
        p.teacher = handle;
        p.loss = HONE_LOSS_DISTILLATION;
        CHECK(hone_finetune_start(&p, x, NULL, 0, &run) == HONE_OK);
        hone_model_destroy(handle); /* the run holds its own copy */
        CHECK(run != NULL && hone_finetune_step(run, &done) == HONE_OK && done == 0);
        hone_finetune_destroy(run);
        run = NULL;
        CHECK(hone_model_load_onnx(fixture, &handle) == HONE_OK);
        hone_finetune_params_init(&p);
        p.model = handle;
        p.model_path = fixture;
        CHECK_FAILS(hone_finetune_start(&p, x, labels, N, &run), HONE_ERROR_INVALID_ARGUMENT,
                    "not both");
        hone_model_destroy(handle);
    }

    /* layer-wise distillation: the first hidden activation against the model's own, with 75%
     * of the weights pruned (the loss falls); a value the teacher lacks stops the first step */
    {
        const char* values[1] = {"/Relu_output_0"};
        hone_finetune_params_init(&p);
        memset(&rec, 0, sizeof rec);
        p.model_path = fixture;
        p.loss = HONE_LOSS_DISTILLATION;
        p.prune_sparsity = 0.75;
        p.batch_size = 64;
        p.epochs = 2;
        p.learning_rate = 0.005f;
        p.distill_values = values;
        p.distill_value_count = 1;
        p.distill_values_weight = 0.5f;
        p.progress = on_progress;
        p.user = &rec;
        CHECK(hone_finetune_start(&p, x, NULL, 0, &run) == HONE_OK);
        CHECK(run_to_end(run) == 8);
        CHECK(rec.last_loss < rec.first_loss);
        hone_finetune_destroy(run);
        values[0] = "no such value";
        CHECK(hone_finetune_start(&p, x, NULL, 0, &run) == HONE_OK);
        CHECK_FAILS(hone_finetune_step(run, &done), HONE_ERROR_NOT_FOUND, "no such value");
        hone_finetune_destroy(run);
        run = NULL;
        p.distill_values = NULL;
        CHECK_FAILS(hone_finetune_start(&p, x, NULL, 0, &run), HONE_ERROR_INVALID_ARGUMENT,
                    "distill_values");
    }
    next_token_run();

    /* errors */
    hone_finetune_destroy(NULL);
    CHECK_FAILS(hone_finetune_params_init(NULL), HONE_ERROR_INVALID_ARGUMENT, "params");
    hone_finetune_params_init(&p);
    CHECK_FAILS(hone_finetune_start(&p, x, labels, N, &run), HONE_ERROR_INVALID_ARGUMENT,
                "model_path");
    p.model_path = "/nonexistent/m.onnx";
    CHECK_FAILS(hone_finetune_start(&p, x, labels, N, &run), HONE_ERROR_IO, "m.onnx");
    p.model_path = fixture;
    CHECK_FAILS(hone_finetune_start(&p, x, NULL, 0, &run), HONE_ERROR_INVALID_ARGUMENT,
                "no labels");
    CHECK_FAILS(hone_finetune_start(&p, x, labels, 7, &run), HONE_ERROR_SHAPE_MISMATCH, "labels");
    p.cluster_count = 8;
    p.weight_bits = 4;
    CHECK_FAILS(hone_finetune_start(&p, x, labels, N, &run), HONE_ERROR_INVALID_ARGUMENT,
                "exclude");
    p.cluster_count = 0;
    p.weight_bits = 0;
    p.learned_scales = 1;
    CHECK_FAILS(hone_finetune_start(&p, x, labels, N, &run), HONE_ERROR_INVALID_ARGUMENT,
                "learned_scales");
    p.learned_scales = 0;
    p.struct_size = offsetof(hone_finetune_params, user);
    CHECK_FAILS(hone_finetune_start(&p, x, labels, N, &run), HONE_ERROR_INVALID_ARGUMENT,
                "struct_size");
    p.struct_size = sizeof p;
    p.learning_rate = -1.0f;
    CHECK_FAILS(hone_finetune_start(&p, x, labels, N, &run), HONE_ERROR_INVALID_ARGUMENT,
                "learning_rate");
    p.learning_rate = 1e30f; /* diverges: a non-finite loss stops the run */
    p.momentum = 0.0f;
    CHECK(hone_finetune_start(&p, x, labels, N, &run) == HONE_OK);
    {
        hone_status st = HONE_OK;
        for (i = 0; i < 8 && st == HONE_OK; ++i)
            st = hone_finetune_step(run, &done);
        CHECK(st == HONE_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(hone_last_error(), "not finite") != NULL);
    }
    CHECK_FAILS(hone_finetune_finish(run, NULL), HONE_ERROR_INVALID_ARGUMENT, "output_path");
    hone_finetune_destroy(run);
    CHECK_FAILS(hone_finetune_step(NULL, &done), HONE_ERROR_INVALID_ARGUMENT, "run");
    run = NULL;
    CHECK(hone_finetune_start(NULL, x, labels, N, &run) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(run == NULL);
    hone_tensor_destroy(x);
    if (failures) fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
