/* Language-model checkpoints through the C ABI: hone_checkpoint_quantize on the language-model
 * fixture's checkpoint (tests/fixtures/lm/hf) to GGUF Q8_0 and to compressed-tensors int8,
 * each validated, decided and recorded; bad parameters refused by name. */
#define _POSIX_C_SOURCE 200809L
#include <hone/hone.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char lm[8192];

/* <source>/tests/fixtures/lm, found upwards from the executable. */
static int find_lm(void) {
    char dir[4096], probe[8300];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) return 0;
    dir[n] = '\0';
    for (;;) {
        char* slash = strrchr(dir, '/');
        if (!slash) return 0;
        *slash = '\0';
        snprintf(lm, sizeof lm, "%s/tests/fixtures/lm", dir);
        snprintf(probe, sizeof probe, "%s/hf/config.json", lm);
        if (access(probe, R_OK) == 0) return 1;
        if (dir[0] == '\0') return 0;
    }
}

int main(void) {
    char folder[8300], calib[8300], eval[8300], out[512], ledger[512], work[512];
    char tmp[] = "/tmp/hone_capi_checkpoint_XXXXXX";
    hone_checkpoint_params p;
    hone_checkpoint_summary s;
    struct stat st;
    if (!find_lm()) {
        fprintf(stderr, "tests/fixtures/lm not found\n");
        return 1;
    }
    CHECK(mkdtemp(tmp) != NULL);
    snprintf(folder, sizeof folder, "%s/hf", lm);
    snprintf(calib, sizeof calib, "%s/tokens.calib.npy:8", lm);
    snprintf(eval, sizeof eval, "%s/tokens.eval.npy:16", lm);
    snprintf(out, sizeof out, "%s/model.gguf", tmp);
    snprintf(ledger, sizeof ledger, "%s/ledger.jsonl", tmp);

    CHECK(hone_checkpoint_params_init(&p) == HONE_OK);
    CHECK(p.struct_size == sizeof p && p.bits == 4 && p.group_size == 128 && p.symmetric == 1);
    CHECK(p.sequential == 1 && p.batch == 16);
    p.checkpoint = folder;
    p.out = out;
    p.type = "Q8_0";
    p.calib = calib;
    p.eval = eval;
    p.ledger = ledger;
    p.policy = "low";
    memset(&s, 0xAB, sizeof s);
    s.struct_size = sizeof s;
    CHECK(hone_checkpoint_quantize(&p, &s) == HONE_OK);
    CHECK(s.verdict == HONE_VERDICT_APPROVED);
    CHECK(s.pieces == 6 && s.pieces_resumed == 0 && s.record_seq == 1);
    CHECK(s.output_bytes > 0 && s.output_bytes < s.checkpoint_bytes / 3);
    CHECK(s.perplexity_change > -0.01 && s.perplexity_change < 0.01);
    CHECK(s.mean_kl >= 0 && s.mean_kl < 0.001 && s.top1_agreement > 0.98);
    CHECK(stat(out, &st) == 0 && (uint64_t)st.st_size == s.output_bytes);

    /* compressed-tensors int8 per channel into a folder, recorded after the GGUF's record. */
    snprintf(out, sizeof out, "%s/int8", tmp);
    p.format = "compressed-tensors";
    p.bits = 8;
    p.group_size = 0;
    CHECK(hone_checkpoint_quantize(&p, &s) == HONE_OK);
    CHECK(s.verdict == HONE_VERDICT_APPROVED && s.record_seq == 2);
    snprintf(work, sizeof work, "%s/int8/config.json", tmp);
    CHECK(stat(work, &st) == 0);

    /* Refusals name the field; the summary is untouched. */
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    p.format = "onnx";
    CHECK_FAILS(hone_checkpoint_quantize(&p, &s), HONE_ERROR_INVALID_ARGUMENT, "params->format");
    CHECK(s.verdict == 0 && s.pieces == 0);
    p.format = "gguf";
    p.type = "Q2_K";
    CHECK_FAILS(hone_checkpoint_quantize(&p, &s), HONE_ERROR_INVALID_ARGUMENT, "Q2_K");
    p.type = NULL;
    p.eval = NULL;
    CHECK_FAILS(hone_checkpoint_quantize(&p, &s), HONE_ERROR_INVALID_ARGUMENT, "params->eval");
    CHECK_FAILS(hone_checkpoint_quantize(NULL, &s), HONE_ERROR_INVALID_ARGUMENT, "params");
    CHECK_FAILS(hone_checkpoint_params_init(NULL), HONE_ERROR_INVALID_ARGUMENT, "params");

    snprintf(work, sizeof work, "rm -rf '%s'", tmp);
    CHECK(system(work) == 0);
    printf("%d failures\n", failures);
    return failures ? 1 : 0;
}
