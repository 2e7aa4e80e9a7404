/* The optimize flow through the C ABI: hone_optimize on the MLP fixture with the calibration
 * set named by a data spec and the evaluation set streamed by a callback (no labels: accuracy
 * is agreement with the baseline), progress and notes seen, the summary, report JSON and
 * artifact path read back with the caller-buffer convention; a cancelled run writes no
 * artifact; the error paths name what is wrong. */
#define _POSIX_C_SOURCE 200809L
#include <hone/hone.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char fixture[8192];

/* <source>/tests/fixtures/fashion_mnist/mlp.onnx, found upwards from the executable. */
static int find_fixture(void) {
    char dir[4096];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
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

/* 96 pseudo-random 28×28 images in [0, 1], streamed in whatever chunks hone asks for. */
enum { SAMPLES = 96, PIXELS = 784 };
typedef struct stream {
    int calls;
    int64_t served;
} stream;

static float pixel(int64_t sample, int64_t k) {
    uint32_t x = (uint32_t)(sample * 7919 + k * 104729 + 17);
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return (float)(x % 1000) / 1000.0f;
}

static hone_status read_samples(void* user, int64_t first, int64_t capacity, float* inputs,
                                int64_t* labels, int64_t* count) {
    stream* s = (stream*)user;
    int64_t n = SAMPLES - first < capacity ? SAMPLES - first : capacity;
    int64_t i, k;
    ++s->calls;
    if (labels != NULL) return HONE_ERROR_INVALID_ARGUMENT; /* has_labels is 0 */
    for (i = 0; i < n; ++i)
        for (k = 0; k < PIXELS; ++k)
            inputs[i * PIXELS + k] = pixel(first + i, k);
    s->served += n;
    *count = n;
    return HONE_OK;
}

typedef struct seen {
    int progress_calls, notes;
    int cancel_at; /* return 0 on this call (1-based); 0 = never */
    char first_stage[128];
} seen;

static int on_progress(void* user, const char* stage, uint64_t done, uint64_t total) {
    seen* s = (seen*)user;
    (void)done;
    (void)total;
    if (s->progress_calls++ == 0) snprintf(s->first_stage, sizeof s->first_stage, "%s", stage);
    return s->progress_calls == s->cancel_at ? 0 : 1;
}

static void on_note(void* user, const char* text) {
    seen* s = (seen*)user;
    CHECK(text != NULL && text[0] != '\0');
    ++s->notes;
}

static const int64_t sample_shape[] = {PIXELS};

/* An engine with its own runners: the baseline on hone's executor loaded from the bytes given,
 * the candidate answering class 3 for every sample (so the validation visibly is the engine's). */
typedef struct engine {
    const char* dir;
    int calls;
    char roles[2][16];
    unsigned char* candidate; /* the candidate's bytes as given */
    size_t candidate_size;
    hone_model* model;
    hone_executor* executor;
    int fail_candidate;
} engine;

static hone_status class_three(void* user, const hone_tensor* inputs, hone_tensor** outputs) {
    int64_t dims[2];
    int64_t shape[2];
    hone_tensor_params tp;
    hone_status st;
    void* data = NULL;
    float* y;
    int64_t i;
    (void)user;
    st = hone_tensor_shape(inputs, dims, 2);
    if (st != HONE_OK) return st;
    shape[0] = dims[0];
    shape[1] = 10;
    tp = tensor_params(HONE_DTYPE_F32, 2, shape);
    st = hone_tensor_create(&tp, outputs);
    if (st != HONE_OK) return st;
    st = hone_tensor_data(*outputs, &data);
    if (st != HONE_OK) return st;
    y = (float*)data;
    for (i = 0; i < shape[0] * 10; ++i)
        y[i] = i % 10 == 3 ? 1.0f : 0.0f;
    return HONE_OK;
}

static hone_status engine_factory(void* user, const char* role, const void* model, size_t size,
                                  hone_runner** out) {
    engine* e = (engine*)user;
    hone_runner_params rp;
    hone_status st;
    if (e->calls < 2) snprintf(e->roles[e->calls], sizeof e->roles[0], "%s", role);
    ++e->calls;
    hone_runner_params_init(&rp);
    if (strcmp(role, "baseline") == 0) {
        char path[8300];
        FILE* f;
        hone_executor_params ep;
        snprintf(path, sizeof path, "%s/engine_baseline.onnx", e->dir);
        f = fopen(path, "wb");
        if (!f || fwrite(model, 1, size, f) != size) return HONE_ERROR_IO;
        fclose(f);
        if ((st = hone_model_load_onnx(path, &e->model)) != HONE_OK) return st;
        hone_executor_params_init(&ep);
        if ((st = hone_executor_create(e->model, &ep, &e->executor)) != HONE_OK) return st;
        if ((st = hone_executor_runner_params(e->executor, &rp)) != HONE_OK) return st;
        rp.name = "engine baseline";
        return hone_runner_create(&rp, out);
    }
    if (e->fail_candidate) return HONE_ERROR_UNSUPPORTED;
    e->candidate = (unsigned char*)malloc(size);
    if (!e->candidate) return HONE_ERROR_OUT_OF_MEMORY;
    memcpy(e->candidate, model, size);
    e->candidate_size = size;
    rp.name = "engine candidate";
    rp.run = class_three;
    return hone_runner_create(&rp, out);
}

static void engine_release(engine* e) {
    hone_executor_destroy(e->executor);
    hone_model_destroy(e->model);
    free(e->candidate);
    e->executor = NULL;
    e->model = NULL;
    e->candidate = NULL;
}

static void params_for(hone_optimize_params* p, const char* dir, stream* st, seen* sn) {
    static char out[8192], ledger[8192];
    snprintf(out, sizeof out, "%s/mlp.int8.onnx", dir);
    snprintf(ledger, sizeof ledger, "%s/ledger.jsonl", dir);
    CHECK(hone_optimize_params_init(p) == HONE_OK);
    p->model = fixture;
    p->recipe = "int8";
    p->calib.spec = "fashion-mnist:train:64";
    p->eval.read = read_samples;
    p->eval.user = st;
    p->eval.sample_shape = sample_shape;
    p->eval.sample_rank = 1;
    p->policy = "low";
    p->out = out;
    p->ledger = ledger;
    p->repeats = 2;
    p->progress = on_progress;
    p->note = on_note;
    p->user = sn;
}

int main(void) {
    char dir[] = "/tmp/hone_capi_pipeline_XXXXXX";
    hone_optimize_params p;
    hone_optimize_result* r = NULL;
    hone_optimize_summary s;
    stream st = {0, 0};
    seen sn;
    size_t needed = 0, count = 0;
    char small[8];
    struct stat info;
    if (!find_fixture()) {
        fprintf(stderr, "tests/fixtures/fashion_mnist/mlp.onnx not found\n");
        return 1;
    }
    if (!mkdtemp(dir)) return 1;

    /* A whole run. */
    memset(&sn, 0, sizeof sn);
    params_for(&p, dir, &st, &sn);
    CHECK(hone_optimize(&p, &r) == HONE_OK);
    CHECK(r != NULL);
    if (r != NULL) {
        memset(&s, 0, sizeof s);
        s.struct_size = sizeof s;
        CHECK(hone_optimize_result_summary(r, &s) == HONE_OK);
        /* The policy "low" approves or rejects; an int8 MLP keeps its answers on noise. */
        CHECK(s.verdict == HONE_VERDICT_APPROVED || s.verdict == HONE_VERDICT_REJECTED);
        /* A new ledger: the baseline is its first record (seq 1), the change the next. */
        CHECK(s.baseline_seq == 1);
        CHECK(s.record_seq == 2);
        CHECK(s.record_signed == 0);
        /* The artifact: the deployable file, its size as stated. */
        CHECK_FAILS(hone_optimize_result_artifact(r, 0, small, sizeof small, &needed, &count),
                    HONE_ERROR_OUT_OF_RANGE, "needs");
        CHECK(count == 1);
        CHECK(needed > sizeof small);
        {
            char* path = (char*)malloc(needed);
            CHECK(hone_optimize_result_artifact(r, 0, path, needed, NULL, NULL) == HONE_OK);
            CHECK(strstr(path, "mlp.int8.onnx") != NULL);
            CHECK(stat(path, &info) == 0 && (uint64_t)info.st_size == s.artifact_bytes);
            /* An int8 QDQ file is about a quarter of the f32 one. */
            CHECK(s.artifact_bytes > 0 && s.artifact_bytes < 1000000);
            free(path);
        }
        CHECK_FAILS(hone_optimize_result_artifact(r, 1, small, sizeof small, NULL, NULL),
                    HONE_ERROR_OUT_OF_RANGE, "index 1 of 1");
        /* The evidence document. */
        CHECK(hone_optimize_result_report_json(r, NULL, 0, &needed) == HONE_ERROR_OUT_OF_RANGE);
        {
            char* json = (char*)malloc(needed);
            CHECK(hone_optimize_result_report_json(r, json, needed, NULL) == HONE_OK);
            CHECK(strstr(json, "\"decision\"") != NULL);
            CHECK(strstr(json, "\"agreement\"") != NULL);
            CHECK(strstr(json, "\"search\"") == NULL); /* no accuracy search asked */
            free(json);
        }
        hone_optimize_result_destroy(r);
    }
    {
        /* The ledger records the streamed set by the SHA-256 of its bytes. */
        static char text[1 << 20];
        char path[8300];
        FILE* f;
        size_t n;
        snprintf(path, sizeof path, "%s/ledger.jsonl", dir);
        f = fopen(path, "rb");
        CHECK(f != NULL);
        if (f) {
            n = fread(text, 1, sizeof text - 1, f);
            text[n] = '\0';
            fclose(f);
            CHECK(strstr(text, "memory:eval:inputs") != NULL);
            CHECK(strstr(text, "\"action\":\"optimize\"") != NULL);
        }
    }
    CHECK(st.served == SAMPLES);
    CHECK(st.calls >= 2); /* the samples, then the end */
    CHECK(sn.progress_calls > 0);
    CHECK(sn.notes >= 2); /* no labels; the baseline */
    hone_optimize_result_destroy(NULL);

    /* The file just written, validated again as a change made elsewhere (hone validate): the
     * streamed evaluation set, a record in the same ledger, then the engine's runners. */
    {
        hone_validate_change_params v;
        char candidate[8300], ledger[8300];
        snprintf(candidate, sizeof candidate, "%s/mlp.int8.onnx", dir);
        snprintf(ledger, sizeof ledger, "%s/ledger.jsonl", dir);
        CHECK(hone_validate_change_params_init(&v) == HONE_OK);
        CHECK(v.repeats == 20 && v.batch == 256 && v.seed == 2026);
        v.baseline = fixture;
        v.candidate = candidate;
        st.served = 0;
        v.eval.read = read_samples;
        v.eval.user = &st;
        v.eval.sample_shape = sample_shape;
        v.eval.sample_rank = 1;
        v.policy = "low";
        v.ledger = ledger;
        v.repeats = 2;
        r = NULL;
        CHECK(hone_validate_change(&v, &r) == HONE_OK);
        CHECK(st.served == SAMPLES);
        if (r != NULL) {
            memset(&s, 0, sizeof s);
            s.struct_size = sizeof s;
            CHECK(hone_optimize_result_summary(r, &s) == HONE_OK);
            CHECK(s.verdict == HONE_VERDICT_APPROVED || s.verdict == HONE_VERDICT_REJECTED);
            CHECK(s.record_seq == 3); /* after optimize's baseline and change records */
            CHECK(stat(candidate, &info) == 0 && (uint64_t)info.st_size == s.artifact_bytes);
            CHECK(hone_optimize_result_artifact(r, 0, NULL, 0, &needed, &count) ==
                  HONE_ERROR_OUT_OF_RANGE);
            CHECK(count == 1);
            hone_optimize_result_destroy(r);
        }
        /* With the engine's runners: class 3 for everything is rejected on its answers. */
        {
            engine e;
            memset(&e, 0, sizeof e);
            e.dir = dir;
            st.served = 0;
            v.runner_factory = engine_factory;
            v.runner_user = &e;
            v.ledger = NULL;
            r = NULL;
            CHECK(hone_validate_change(&v, &r) == HONE_OK);
            CHECK(e.calls == 2);
            if (r != NULL) {
                memset(&s, 0, sizeof s);
                s.struct_size = sizeof s;
                CHECK(hone_optimize_result_summary(r, &s) == HONE_OK);
                CHECK(s.verdict == HONE_VERDICT_REJECTED);
                CHECK(s.record_seq == -1); /* no ledger given */
                hone_optimize_result_destroy(r);
            }
            engine_release(&e);
        }
        v.runner_factory = NULL;
        v.candidate = NULL;
        CHECK_FAILS(hone_validate_change(&v, &r), HONE_ERROR_INVALID_ARGUMENT, "params->candidate");
        v.candidate = candidate;
        v.struct_size = 8;
        CHECK_FAILS(hone_validate_change(&v, &r), HONE_ERROR_INVALID_ARGUMENT, "struct_size");
    }

    /* Cancelled at the first progress report after the baseline: no artifact, no optimize
     * record, HONE_ERROR_CANCELLED naming the stage. */
    {
        char out[8192];
        memset(&sn, 0, sizeof sn);
        st.served = 0;
        params_for(&p, dir, &st, &sn);
        snprintf(out, sizeof out, "%s/cancelled.onnx", dir);
        p.out = out;
        sn.cancel_at = 1;
        r = NULL;
        CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_CANCELLED, "cancelled by the caller");
        CHECK(r == NULL);
        CHECK(stat(out, &info) != 0);
    }

    /* The engine's runners validate: it gets the baseline's and the artifact's exact bytes. */
    {
        engine e;
        char out[8192];
        memset(&e, 0, sizeof e);
        e.dir = dir;
        memset(&sn, 0, sizeof sn);
        st.served = 0;
        params_for(&p, dir, &st, &sn);
        snprintf(out, sizeof out, "%s/engine.onnx", dir);
        p.out = out;
        p.runner_factory = engine_factory;
        p.runner_user = &e;
        r = NULL;
        CHECK(hone_optimize(&p, &r) == HONE_OK);
        CHECK(e.calls == 2);
        CHECK(strcmp(e.roles[0], "baseline") == 0);
        CHECK(strcmp(e.roles[1], "candidate") == 0);
        if (r != NULL) {
            FILE* f = fopen(out, "rb");
            static unsigned char written[1 << 22];
            size_t n = f ? fread(written, 1, sizeof written, f) : 0;
            if (f) fclose(f);
            CHECK(n > 0 && n == e.candidate_size);
            CHECK(e.candidate != NULL && memcmp(written, e.candidate, n) == 0);
            memset(&s, 0, sizeof s);
            s.struct_size = sizeof s;
            CHECK(hone_optimize_result_summary(r, &s) == HONE_OK);
            /* Class 3 for everything agrees with the baseline on about a tenth: rejected. */
            CHECK(s.verdict == HONE_VERDICT_REJECTED);
            CHECK(s.artifact_bytes == n);
            {
                /* The evidence names the engine's runners. */
                char* json;
                CHECK(hone_optimize_result_report_json(r, NULL, 0, &needed) ==
                      HONE_ERROR_OUT_OF_RANGE);
                json = (char*)malloc(needed);
                CHECK(json && hone_optimize_result_report_json(r, json, needed, NULL) == HONE_OK);
                CHECK(json && strstr(json, "\"engine candidate\"") != NULL);
                CHECK(json && strstr(json, "\"engine baseline\"") != NULL);
                free(json);
            }
            hone_optimize_result_destroy(r);
        }
        engine_release(&e);
        /* A factory that fails stops the run with its status; no artifact is written. */
        memset(&e, 0, sizeof e);
        e.dir = dir;
        e.fail_candidate = 1;
        snprintf(out, sizeof out, "%s/engine_failed.onnx", dir);
        r = NULL;
        CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_UNSUPPORTED,
                    "runner_factory failed for the candidate");
        CHECK(r == NULL);
        CHECK(stat(out, &info) != 0);
        engine_release(&e);
        /* Format hone cannot be run by an engine. */
        p.format = "hone";
        CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_INVALID_ARGUMENT, "engine's runners");
    }

    /* A language model, its data given as token-id NPY specs: validated on next-token
     * predictions (perplexity, KL, agreement), decided by the policy's language-model gates. */
    {
        static char lm_model[8300], lm_calib[8300], lm_eval[8300], lm_out[8300], lm_ledger[8300],
            lm_policy[8300];
        char* at = strstr(fixture, "fashion_mnist/mlp.onnx");
        CHECK(at != NULL);
        if (at != NULL) {
            const int root = (int)(at - fixture);
            snprintf(lm_model, sizeof lm_model, "%.*slm/model.onnx", root, fixture);
            snprintf(lm_calib, sizeof lm_calib, "%.*slm/tokens.calib.npy", root, fixture);
            snprintf(lm_eval, sizeof lm_eval, "%.*slm/tokens.eval.npy:32", root, fixture);
            snprintf(lm_out, sizeof lm_out, "%s/lm.int8.onnx", dir);
            snprintf(lm_ledger, sizeof lm_ledger, "%s/lm.jsonl", dir);
            CHECK(hone_optimize_params_init(&p) == HONE_OK);
            p.model = lm_model;
            p.recipe = "int8";
            p.calib.spec = lm_calib;
            p.eval.spec = lm_eval;
            /* the low tier without its latency gate: timings are machine noise here */
            snprintf(lm_policy, sizeof lm_policy, "%s/lm_policy.json", dir);
            {
                FILE* f = fopen(lm_policy, "w");
                CHECK(f != NULL);
                if (f) {
                    fputs("{\"tier\": \"low\", \"max_latency_regression\": null}", f);
                    fclose(f);
                }
            }
            p.policy = lm_policy;
            p.out = lm_out;
            p.ledger = lm_ledger;
            p.repeats = 2;
            CHECK(hone_optimize(&p, &r) == HONE_OK);
            if (r != NULL) {
                memset(&s, 0, sizeof s);
                s.struct_size = sizeof s;
                CHECK(hone_optimize_result_summary(r, &s) == HONE_OK);
                CHECK(s.verdict == HONE_VERDICT_APPROVED); /* int8: +0.15% perplexity */
                CHECK(hone_optimize_result_report_json(r, NULL, 0, &needed) ==
                      HONE_ERROR_OUT_OF_RANGE);
                {
                    char* json = (char*)malloc(needed);
                    CHECK(hone_optimize_result_report_json(r, json, needed, NULL) == HONE_OK);
                    CHECK(strstr(json, "\"language_model\"") != NULL);
                    CHECK(strstr(json, "\"perplexity_increase\"") != NULL);
                    free(json);
                }
                hone_optimize_result_destroy(r);
                r = NULL;
            }
            /* f32 images for a model of token ids: refused, naming both. */
            p.eval.spec = "fashion-mnist:test:8";
            CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_DTYPE_MISMATCH, "takes token ids");
        }
    }

    /* Errors name what is wrong. */
    CHECK_FAILS(hone_optimize(NULL, &r), HONE_ERROR_INVALID_ARGUMENT, "params");
    params_for(&p, dir, &st, &sn);
    p.recipe = "no-such-preset";
    CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_INVALID_ARGUMENT, "no-such-preset");
    params_for(&p, dir, &st, &sn);
    p.eval.read = NULL;
    CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_INVALID_ARGUMENT, "eval: neither 'spec'");
    params_for(&p, dir, &st, &sn);
    p.eval.sample_rank = 0;
    CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_INVALID_ARGUMENT, "sample_shape");
    params_for(&p, dir, &st, &sn);
    p.tolerable_drop = 1.5;
    CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_INVALID_ARGUMENT, "tolerable_drop");
    params_for(&p, dir, &st, &sn);
    p.target_bits_per_weight = 40;
    CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_INVALID_ARGUMENT, "target_bits_per_weight");
    params_for(&p, dir, &st, &sn);
    p.target_bits_per_weight = 4;
    p.target_file_bytes = 1000;
    CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_INVALID_ARGUMENT, "alternatives");
    /* A caller built before target_file_bytes existed: its struct ends at runner_user, and the
     * bytes after it are not read (else this would fail as above, on 'alternatives', before
     * the check that follows it: relative_drop without tolerable_drop). */
    p.struct_size = offsetof(hone_optimize_params, target_file_bytes);
    p.relative_drop = 1;
    CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_INVALID_ARGUMENT, "needs tolerable_drop");
    params_for(&p, dir, &st, &sn);
    p.struct_size = 8;
    CHECK_FAILS(hone_optimize(&p, &r), HONE_ERROR_INVALID_ARGUMENT, "struct_size");
    params_for(&p, dir, &st, &sn);
    p.model = "/nonexistent/model.onnx";
    CHECK(hone_optimize(&p, &r) != HONE_OK);
    CHECK(strstr(hone_last_error(), "/nonexistent/model.onnx") != NULL);

    {
        char cmd[8300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) ++failures;
    }
    printf("%d failures\n", failures);
    return failures ? 1 : 0;
}
