/* The change ledger through the C ABI: keys, appends, verification, artifact checks, errors. */
#define _POSIX_C_SOURCE 200809L
#include <hone/hone.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static void write_text(const char* path, const char* text) {
    FILE* f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

int main(void) {
    char dir[] = "/tmp/hone-capi-ledger-XXXXXX";
    char ledger_path[256], model_path[256], key_path[256], cmd[300];
    hone_key *alice = NULL, *mallory = NULL, *loaded = NULL;
    hone_ledger* ledger = NULL;
    hone_change_record r;
    hone_verify_params vp;
    hone_verify_result vr;
    hone_artifact_status as;
    char alice_hex[65], loaded_hex[65];
    uint64_t seq = 0;
    const char* artifacts[1];
    const char* actors[1];
    const char* keys[1];

    if (!mkdtemp(dir)) return 2;
    snprintf(ledger_path, sizeof ledger_path, "%s/changes.jsonl", dir);
    snprintf(model_path, sizeof model_path, "%s/model.onnx", dir);
    snprintf(key_path, sizeof key_path, "%s/alice.pem", dir);
    write_text(model_path, "quantized model bytes");

    /* keys */
    CHECK(hone_key_generate(&alice) == HONE_OK);
    CHECK(hone_key_generate(&mallory) == HONE_OK);
    CHECK(hone_key_public_hex(alice, alice_hex, sizeof alice_hex) == HONE_OK);
    CHECK(strlen(alice_hex) == 64);
    CHECK(hone_key_public_hex(alice, alice_hex, 10) == HONE_ERROR_OUT_OF_RANGE);
    CHECK(hone_key_save_pem(alice, key_path) == HONE_OK);
    CHECK(hone_key_load_pem(key_path, &loaded) == HONE_OK);
    CHECK(hone_key_public_hex(loaded, loaded_hex, sizeof loaded_hex) == HONE_OK);
    CHECK(strcmp(alice_hex, loaded_hex) == 0);
    {
        hone_key* none = NULL;
        CHECK(hone_key_load_pem("/nonexistent/key.pem", &none) == HONE_ERROR_IO);
        CHECK(strstr(hone_last_error(), "/nonexistent/key.pem") != NULL);
        CHECK(none == NULL);
        CHECK(hone_key_load_pem(model_path, &none) == HONE_ERROR_FORMAT);
        CHECK(hone_key_generate(NULL) == HONE_ERROR_INVALID_ARGUMENT);
    }

    /* an optimize record that needs one signed approval */
    CHECK(hone_ledger_open(ledger_path, &ledger) == HONE_OK);
    CHECK(hone_change_record_init(&r) == HONE_OK);
    r.action = HONE_LEDGER_OPTIMIZE;
    r.actor = "ci";
    artifacts[0] = model_path;
    r.artifact_paths = artifacts;
    r.artifact_count = 1;
    r.metrics = "{\"accuracy\":0.89}";
    r.decision = "{\"verdict\":\"needs_signoff\",\"approvals_required\":1}";
    CHECK(hone_ledger_append(ledger, &r, NULL, &seq) == HONE_OK && seq == 1);
    CHECK(hone_ledger_check_artifact(ledger, model_path, NULL, &as) == HONE_OK);
    CHECK(as.verdict == HONE_ARTIFACT_NEEDS_SIGNOFF && as.approvals_missing == 1 && as.seq == 1);
    CHECK(strlen(as.sha256) == 64);

    CHECK(hone_change_record_init(&r) == HONE_OK);
    r.action = HONE_LEDGER_APPROVE;
    r.actor = "alice";
    r.subject = 1;
    CHECK(hone_ledger_append(ledger, &r, alice, &seq) == HONE_OK && seq == 2);
    CHECK(hone_ledger_check_artifact(ledger, model_path, NULL, &as) == HONE_OK);
    CHECK(as.verdict == HONE_ARTIFACT_APPROVED);
    CHECK(strstr(as.reason, "signed off") != NULL);

    /* verification, with and without trusted keys */
    CHECK(hone_verify_params_init(&vp) == HONE_OK);
    CHECK(hone_ledger_verify(ledger, &vp, &vr) == HONE_OK && vr.ok == 1 && vr.records == 2);
    actors[0] = "alice";
    keys[0] = alice_hex;
    vp.trusted_actors = actors;
    vp.trusted_keys = keys;
    vp.trusted_count = 1;
    CHECK(hone_ledger_verify(ledger, &vp, &vr) == HONE_OK && vr.ok == 1);
    {
        char mallory_hex[65];
        hone_key_public_hex(mallory, mallory_hex, sizeof mallory_hex);
        keys[0] = mallory_hex;
        CHECK(hone_ledger_verify(ledger, &vp, &vr) == HONE_OK && vr.ok == 0 && vr.first_bad == 2);
        CHECK(strstr(vr.problem, "trusted key") != NULL);
        CHECK(hone_ledger_check_artifact(ledger, model_path, &vp, &as) == HONE_OK);
        CHECK(as.verdict == HONE_ARTIFACT_UNKNOWN);
    }
    vp.require_signatures = 1;
    vp.trusted_count = 0;
    CHECK(hone_ledger_verify(ledger, &vp, &vr) == HONE_OK && vr.ok == 0 && vr.first_bad == 1);

    /* errors: nothing appended */
    CHECK(hone_change_record_init(&r) == HONE_OK);
    CHECK(hone_ledger_append(ledger, &r, NULL, &seq) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "record->actor") != NULL);
    r.actor = "ci";
    r.action = (hone_ledger_action)9;
    CHECK(hone_ledger_append(ledger, &r, NULL, &seq) == HONE_ERROR_INVALID_ARGUMENT);
    r.action = HONE_LEDGER_BASELINE;
    r.metrics = "{oops";
    CHECK(hone_ledger_append(ledger, &r, NULL, &seq) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "metrics") != NULL);
    r.metrics = NULL;
    artifacts[0] = "/nonexistent/model.onnx";
    r.artifact_paths = artifacts;
    r.artifact_count = 1;
    CHECK(hone_ledger_append(ledger, &r, NULL, &seq) == HONE_ERROR_IO);
    CHECK(seq == 2);
    CHECK(hone_ledger_check_artifact(ledger, "/nonexistent/x", NULL, &as) == HONE_ERROR_IO);

    /* tampering: verify reports it, appends are refused */
    snprintf(cmd, sizeof cmd, "sed -i 's/0.89/0.99/' %s", ledger_path);
    CHECK(system(cmd) == 0);
    CHECK(hone_ledger_verify(ledger, NULL, &vr) == HONE_OK && vr.ok == 0 && vr.first_bad == 2);
    r.artifact_count = 0;
    CHECK(hone_ledger_append(ledger, &r, NULL, &seq) == HONE_ERROR_VERIFICATION_FAILED);
    CHECK(strstr(hone_last_error(), "does not verify at line 2") != NULL);

    hone_ledger_destroy(ledger);
    hone_ledger_destroy(NULL);
    hone_key_destroy(alice);
    hone_key_destroy(mallory);
    hone_key_destroy(loaded);
    hone_key_destroy(NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 2;
    if (failures == 0) printf("C ABI ledger: all checks passed\n");
    return failures ? 1 : 0;
}
