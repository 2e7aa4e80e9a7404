/* Validation through the C ABI: runner callbacks, summary, policy, decision, errors. */
#include <hone/hone.h>

#include <stdio.h>
#include <string.h>

#include "check.h"

#define N 200
#define CLASSES 3

/* Inputs: [N, CLASSES + 1]; row i is one-hot at i % CLASSES, last column = i. */
static float inputs_data[N * (CLASSES + 1)];

typedef struct model {
    int wrong_every; /* answer wrongly on samples whose index is a multiple of this; 0 = never */
    int fail;        /* return an error */
} model;

static hone_status run_model(void* user, const hone_tensor* in, hone_tensor** out) {
    const model* m = (const model*)user;
    int64_t dims[2];
    void* src = NULL;
    void* dst = NULL;
    hone_tensor_params p;
    int64_t r, k;
    if (m->fail) return HONE_ERROR_UNSUPPORTED;
    hone_tensor_shape(in, dims, 2);
    hone_tensor_data((hone_tensor*)in, &src);
    hone_tensor_params_init(&p);
    dims[1] = CLASSES;
    p.rank = 2;
    p.dims = dims;
    if (hone_tensor_create(&p, out) != HONE_OK) return HONE_ERROR_OUT_OF_MEMORY;
    hone_tensor_data(*out, &dst);
    for (r = 0; r < dims[0]; ++r) {
        const float* x = (const float*)src + r * (CLASSES + 1);
        float* y = (float*)dst + r * CLASSES;
        const int index = (int)x[CLASSES];
        for (k = 0; k < CLASSES; ++k)
            y[k] = x[k];
        if (m->wrong_every && index % m->wrong_every == 0) y[(index + 1) % CLASSES] = 2.0f;
    }
    return HONE_OK;
}

int main(void) {
    int64_t labels[N];
    const int64_t dims[2] = {N, CLASSES + 1};
    hone_tensor_params tp;
    hone_tensor* inputs = NULL;
    hone_runner_params rp;
    hone_runner *baseline = NULL, *candidate = NULL, *broken = NULL;
    model good = {0, 0}, worse = {10, 0}, failing = {0, 1};
    hone_validate_params vp;
    hone_validation* v = NULL;
    hone_validation_summary s = {.struct_size = sizeof(hone_validation_summary)};
    hone_policy *medium = NULL, *custom = NULL;
    hone_verdict verdict = HONE_VERDICT_APPROVED;
    uint32_t missing = 99;
    static char text[1 << 16];
    char buffer[1024];
    size_t needed = 0;
    const char* slice_names[1] = {"first twenty"};
    uint32_t first_twenty[20];
    const uint32_t* slice_samples[1] = {first_twenty};
    const size_t slice_sizes[1] = {20};
    int i;

    for (i = 0; i < N; ++i) {
        inputs_data[i * (CLASSES + 1) + i % CLASSES] = 1.0f;
        inputs_data[i * (CLASSES + 1) + CLASSES] = (float)i;
        labels[i] = i % CLASSES;
    }
    for (i = 0; i < 20; ++i)
        first_twenty[i] = (uint32_t)i;
    hone_tensor_params_init(&tp);
    tp.rank = 2;
    tp.dims = dims;
    CHECK(hone_tensor_wrap(&tp, inputs_data, sizeof inputs_data, &inputs) == HONE_OK);

    CHECK(hone_runner_params_init(&rp) == HONE_OK);
    rp.run = run_model;
    rp.user = &good;
    rp.name = "baseline";
    rp.model_bytes = 4000;
    CHECK(hone_runner_create(&rp, &baseline) == HONE_OK);
    rp.user = &worse;
    rp.name = "candidate";
    rp.model_bytes = 1000;
    CHECK(hone_runner_create(&rp, &candidate) == HONE_OK);

    CHECK(hone_validate_params_init(&vp) == HONE_OK);
    vp.batch_size = 64;
    vp.latency_batch_count = 0;
    vp.slice_names = slice_names;
    vp.slice_samples = slice_samples;
    vp.slice_sizes = slice_sizes;
    vp.slice_count = 1;
    CHECK(hone_validate(baseline, candidate, inputs, labels, N, &vp, &v) == HONE_OK);
    {
        hone_validation_summary short_s = {.struct_size = 4};
        CHECK_FAILS(hone_validation_summary_get(v, &short_s), HONE_ERROR_INVALID_ARGUMENT,
                    "struct_size");
    }
    CHECK(hone_validation_summary_get(v, &s) == HONE_OK);
    CHECK(s.samples == N);
    CHECK(s.baseline_accuracy == 1.0);
    CHECK(s.candidate_accuracy == 0.9); /* wrong on 0, 10, …, 190 */
    CHECK(s.regressions == 20 && s.improvements == 0);
    CHECK(s.delta_low < -0.1 && s.delta_high > -0.1 && s.delta_high < 0.0);
    CHECK(s.agreement == 0.9);
    CHECK_STRING(text, hone_validation_json, v);
    CHECK(text[0] == '{' && strstr(text, "\"first twenty\"") != NULL);

    /* policies and decisions */
    CHECK(hone_policy_create_for_tier(HONE_TIER_MEDIUM, &medium) == HONE_OK);
    /* The decision text: NULL / 0 is "not wanted" (success, with its size); a too small buffer
       fails and leaves the verdict, the count and the buffer as they were. */
    needed = 0;
    CHECK(hone_validation_decide(v, medium, &verdict, &missing, NULL, 0, &needed) == HONE_OK);
    CHECK(verdict == HONE_VERDICT_REJECTED && needed > 1 && needed < sizeof text);
    verdict = HONE_VERDICT_APPROVED;
    missing = 77;
    memset(text, '#', sizeof text);
    {
        size_t again = 0, i;
        int untouched = 1;
        CHECK_FAILS(hone_validation_decide(v, medium, &verdict, &missing, text, needed - 1, &again),
                    HONE_ERROR_OUT_OF_RANGE, "hone_validation_decide");
        CHECK(again == needed && verdict == HONE_VERDICT_APPROVED && missing == 77);
        for (i = 0; i < sizeof text; ++i)
            untouched &= text[i] == '#';
        CHECK(untouched);
    }
    CHECK(hone_validation_decide(v, medium, &verdict, &missing, text, needed, NULL) == HONE_OK);
    CHECK(verdict == HONE_VERDICT_REJECTED && strlen(text) == needed - 1 && text[needed] == '#');
    CHECK(strstr(text, "\"metric\":\"accuracy_drop\"") != NULL);
    CHECK_FAILS(hone_validation_decide(v, medium, &verdict, &missing, NULL, 1 << 20, NULL),
                HONE_ERROR_INVALID_ARGUMENT, "'buffer'");
    CHECK(hone_policy_create_from_json("{\"tier\":\"low\",\"max_accuracy_drop\":0.2,"
                                       "\"max_slice_accuracy_drop\":0.5,\"min_agreement\":0.5,"
                                       "\"required_approvals\":2}",
                                       "team.json", &custom) == HONE_OK);
    CHECK(hone_validation_decide(v, custom, &verdict, &missing, NULL, 0, NULL) == HONE_OK);
    CHECK(verdict == HONE_VERDICT_NEEDS_SIGNOFF && missing == 2);
    CHECK_STRING(buffer, hone_policy_to_json, custom);
    CHECK(strstr(buffer, "\"required_approvals\":2") != NULL);

    /* errors */
    {
        hone_policy* bad = NULL;
        hone_validation* none = NULL;
        CHECK(hone_policy_create_from_json("{\"tier\":\"severe\"}", "p.json", &bad) ==
              HONE_ERROR_FORMAT);
        CHECK(strstr(hone_last_error(), "p.json: unknown tier 'severe'") != NULL);
        CHECK(hone_policy_create_for_tier((hone_risk_tier)7, &bad) == HONE_ERROR_INVALID_ARGUMENT);
        CHECK(bad == NULL);
        rp.user = &failing;
        rp.name = "engine";
        CHECK(hone_runner_create(&rp, &broken) == HONE_OK);
        CHECK(hone_validate(baseline, broken, inputs, labels, N, &vp, &none) ==
              HONE_ERROR_UNSUPPORTED);
        CHECK(strstr(hone_last_error(), "runner 'engine' failed") != NULL);
        CHECK(none == NULL);
        CHECK(hone_validate(baseline, candidate, inputs, labels, N - 1, &vp, &none) ==
              HONE_ERROR_INVALID_ARGUMENT);
        first_twenty[3] = 5000;
        CHECK(hone_validate(baseline, candidate, inputs, labels, N, &vp, &none) ==
              HONE_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(hone_last_error(), "names sample 5000") != NULL);
        rp.run = NULL;
        {
            hone_runner* no_run = NULL;
            CHECK(hone_runner_create(&rp, &no_run) == HONE_ERROR_INVALID_ARGUMENT);
            CHECK(no_run == NULL);
        }
        CHECK(hone_validation_decide(v, NULL, &verdict, NULL, NULL, 0, NULL) ==
              HONE_ERROR_INVALID_ARGUMENT);
    }

    hone_validation_destroy(v);
    hone_validation_destroy(NULL);
    hone_policy_destroy(medium);
    hone_policy_destroy(custom);
    hone_policy_destroy(NULL);
    hone_runner_destroy(baseline);
    hone_runner_destroy(candidate);
    hone_runner_destroy(broken);
    hone_runner_destroy(NULL);
    hone_tensor_destroy(inputs);
    if (failures == 0) printf("C ABI validation: all checks passed\n");
    return failures ? 1 : 0;
}
