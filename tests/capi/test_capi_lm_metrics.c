/* Language-model comparison through the C ABI: hand-computed figures, slices, JSON, errors. */
#include <hone/hone.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static int near(double a, double b) { return fabs(a - b) <= 1e-6 * (1 + fabs(b)); }

int main(void) {
    /* 2 sequences of 3 tokens, vocabulary 4. Baseline: uniform logits (perplexity 4).
     * Candidate: sequence 0 equals the baseline; sequence 1 puts logit ln 3 on token 2, i.e.
     * q = (1/6, 1/6, 1/2, 1/6). */
    const int64_t tok_dims[2] = {2, 3}, logit_dims[3] = {2, 3, 4};
    int64_t tokens[6] = {1, 2, 3, 0, 2, 1};
    int64_t targets[6] = {0};
    float base[24] = {0}, cand[24] = {0};
    const char* labels[2] = {"Ruth", "Jonah"};
    hone_tensor *tok = wrap_tensor(HONE_DTYPE_I64, 2, tok_dims, tokens, sizeof tokens),
                *tgt = wrap_tensor(HONE_DTYPE_I64, 2, tok_dims, targets, sizeof targets),
                *b = wrap_tensor(HONE_DTYPE_F32, 3, logit_dims, base, sizeof base),
                *c = wrap_tensor(HONE_DTYPE_F32, 3, logit_dims, cand, sizeof cand),
                *wrong = wrap_tensor(HONE_DTYPE_F32, 2, tok_dims, base, 6 * sizeof(float));
    hone_lm_comparison* cmp = NULL;
    hone_lm_params params;
    hone_lm_slice_metrics m = {.struct_size = sizeof(hone_lm_slice_metrics)};
    size_t slices = 99;
    char json[16384];
    int t;

    CHECK(hone_next_token_targets(tok, tgt) == HONE_OK);
    CHECK(targets[0] == 2 && targets[1] == 3 && targets[2] == -1);
    CHECK(targets[3] == 2 && targets[4] == 1 && targets[5] == -1);
    for (t = 0; t < 3; ++t)
        cand[(3 + t) * 4 + 2] = (float)log(3.0);

    CHECK(hone_lm_comparison_create(&cmp) == HONE_OK);
    CHECK_FAILS(hone_lm_comparison_slice(cmp, 0, &m), HONE_ERROR_INVALID_ARGUMENT, "summarize");
    CHECK_FAILS(hone_lm_comparison_json(cmp, json, sizeof json, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "summarize");
    CHECK(hone_lm_comparison_add(cmp, b, c, tgt, labels, 2) == HONE_OK);
    CHECK(hone_lm_params_init(&params) == HONE_OK);
    CHECK(params.resamples == 2000 && params.confidence == 0.95);
    params.resamples = 500;
    CHECK(hone_lm_comparison_summarize(cmp, &params, &slices) == HONE_OK);
    CHECK(slices == 2);

    CHECK(hone_lm_comparison_slice(cmp, 0, &m) == HONE_OK);
    CHECK(strcmp(m.name, "overall") == 0);
    CHECK(m.sequences == 2 && m.tokens == 4);
    CHECK(near(m.baseline_perplexity.value, 4.0));
    /* candidate NLLs: ln 4, ln 4 (sequence 0); targets 2 and 1 under q: ln 2, ln 6 */
    CHECK(near(m.candidate_perplexity.value, exp((2 * log(4.0) + log(2.0) + log(6.0)) / 4)));
    CHECK(near(m.top1_agreement.value, 0.5)); /* sequence 1: argmax 2 vs 0 */
    CHECK(m.mean_kl.low <= m.mean_kl.value && m.mean_kl.value <= m.mean_kl.high);

    CHECK(hone_lm_comparison_slice(cmp, 1, &m) == HONE_OK);
    CHECK(strcmp(m.name, "Ruth") == 0);
    CHECK(near(m.mean_kl.value, 0.0) && near(m.top1_agreement.value, 1.0));
    CHECK(hone_lm_comparison_slice(cmp, 2, &m) == HONE_OK);
    CHECK(strcmp(m.name, "Jonah") == 0);
    /* KL(uniform || q) = Σ ¼ ln(¼ / q) = ¾ ln(6/4) + ¼ ln(2/4) */
    CHECK(near(m.mean_kl.value, 0.75 * log(1.5) + 0.25 * log(0.5)));
    /* one sequence: every resample is the same */
    CHECK(m.mean_kl.low == m.mean_kl.high);
    /* target 2 at position 0: the candidate is right where the baseline (argmax 0) is not */
    CHECK(near(m.flip_rate.value, 0.5));
    CHECK(near(m.candidate_accuracy.value, 0.5) && near(m.baseline_accuracy.value, 0.0));
    CHECK_FAILS(hone_lm_comparison_slice(cmp, 3, &m), HONE_ERROR_INVALID_ARGUMENT, "index 3");

    CHECK_STRING(json, hone_lm_comparison_json, cmp);
    CHECK(json[0] == '{' && strstr(json, "\"Jonah\"") != NULL);

    /* errors name the function and the argument */
    CHECK_FAILS(hone_lm_comparison_add(cmp, b, c, tgt, NULL, 0), HONE_ERROR_INVALID_ARGUMENT,
                "every batch");
    CHECK_FAILS(hone_lm_comparison_add(cmp, b, c, tgt, labels, 1), HONE_ERROR_INVALID_ARGUMENT,
                "1 slice labels");
    CHECK_FAILS(hone_lm_comparison_add(cmp, b, wrong, tgt, labels, 2), HONE_ERROR_SHAPE_MISMATCH,
                "hone_lm_comparison_add");
    CHECK_FAILS(hone_lm_comparison_add(cmp, NULL, c, tgt, labels, 2), HONE_ERROR_INVALID_ARGUMENT,
                "baseline_logits");
    CHECK_FAILS(hone_next_token_targets(b, tgt), HONE_ERROR_DTYPE_MISMATCH, "tokens");
    params.resamples = 0;
    CHECK_FAILS(hone_lm_comparison_summarize(cmp, &params, NULL), HONE_ERROR_INVALID_ARGUMENT,
                "resamples");

    hone_lm_comparison_destroy(cmp);
    hone_lm_comparison_destroy(NULL);
    hone_tensor_destroy(tok);
    hone_tensor_destroy(tgt);
    hone_tensor_destroy(b);
    hone_tensor_destroy(c);
    hone_tensor_destroy(wrong);
    return failures ? 1 : 0;
}
