/* The change ledger through the C ABI: keys, appends, verification, artifact checks, errors. */
#define _POSIX_C_SOURCE 200809L
#include <hone/hone.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* Validator-shaped metrics: 1000 samples, 90% -> 89.7% top-1 (a 0.3-point drop), 99% agreement:
 * within every bound of tier low, so its policy says needs_signoff with 1 approval. */
#define METRICS                                                                                    \
    "{\"accuracy\":{\"baseline\":0.9,\"candidate\":0.897,\"delta_interval\":[-0.012,0.002]},"      \
    "\"baseline\":{\"samples\":1000},\"candidate\":{\"samples\":1000,\"agreement\":0.99}}"

static void write_text(const char* path, const char* text) {
    FILE* f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* The CycloneDX BOM of optimize record 1 (METRICS): its size first, then its bytes. */
static void check_cyclonedx(hone_ledger* ledger, const char* signer_hex) {
    hone_cyclonedx_params cp;
    size_t need = 0, again = 0;
    char* bom;
    char* second;
    CHECK(hone_cyclonedx_params_init(&cp) == HONE_OK && cp.seq == 0);
    CHECK(hone_ledger_export_cyclonedx(ledger, &cp, NULL, 0, &need) == HONE_ERROR_OUT_OF_RANGE);
    CHECK(need > 1000);
    bom = malloc(need);
    second = malloc(need);
    CHECK(bom && second);
    CHECK(hone_ledger_export_cyclonedx(ledger, NULL, bom, need - 1, &again) ==
          HONE_ERROR_OUT_OF_RANGE);
    CHECK(again == need);
    CHECK(hone_ledger_export_cyclonedx(ledger, NULL, bom, need, NULL) == HONE_OK);
    CHECK(strlen(bom) + 1 == need);
    cp.seq = 1;
    CHECK(hone_ledger_export_cyclonedx(ledger, &cp, second, need, NULL) == HONE_OK);
    CHECK(strcmp(bom, second) == 0); /* the newest optimize record is record 1; same bytes */
    CHECK(strstr(bom, "\"specVersion\": \"1.6\"") != NULL);
    CHECK(strstr(bom, "\"type\": \"machine-learning-model\"") != NULL);
    CHECK(strstr(bom, "\"value\": \"0.897\"") != NULL); /* candidate top-1 accuracy */
    CHECK(strstr(bom, "\"lowerBound\": \"-0.012\"") != NULL);
    CHECK(strstr(bom, signer_hex) != NULL);
    cp.seq = 2; /* the approval */
    CHECK(hone_ledger_export_cyclonedx(ledger, &cp, bom, need, NULL) ==
          HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "record 2 is not an optimize record") != NULL);
    cp.struct_size = 4;
    CHECK(hone_ledger_export_cyclonedx(ledger, &cp, bom, need, NULL) ==
          HONE_ERROR_INVALID_ARGUMENT);
    CHECK(hone_ledger_export_cyclonedx(NULL, NULL, bom, need, NULL) == HONE_ERROR_INVALID_ARGUMENT);
    free(bom);
    free(second);
}

/* Trust stores and the load-time check on bytes and on a file descriptor. */
static void check_trust_and_load(const char* dir) {
    char path[256], text[512], holder[16], ci_hex[65], ann_hex[65];
    hone_key *ci = NULL, *ann = NULL, *mallory_key = NULL;
    hone_trust_store *trust = NULL, *bad = NULL;
    hone_ledger* ledger = NULL;
    hone_change_record r;
    hone_load_check_params lp;
    hone_load_check* result = NULL;
    hone_load_check_info info = {.struct_size = sizeof(hone_load_check_info)};
    hone_verify_params vp;
    hone_artifact_status as = {.struct_size = sizeof(hone_artifact_status)};
    const char* artifacts[1];
    const char model[] = "the bytes an engine loads";
    size_t count = 0;
    uint64_t seq = 0;
    int fd;

    CHECK(hone_key_generate(&ci) == HONE_OK && hone_key_generate(&ann) == HONE_OK);
    CHECK(hone_key_generate(&mallory_key) == HONE_OK);
    CHECK(hone_key_public_hex(ci, ci_hex, sizeof ci_hex, NULL) == HONE_OK);
    CHECK(hone_key_public_hex(ann, ann_hex, sizeof ann_hex, NULL) == HONE_OK);
    snprintf(text, sizeof text, "# who\nci optimizer %s\nann approver:low %s # reviewer\n", ci_hex,
             ann_hex);
    CHECK(hone_trust_store_parse(text, strlen(text), "team.trust", &trust) == HONE_OK);
    CHECK(hone_trust_store_count(trust, &count) == HONE_OK && count == 2);
    CHECK_STRING(holder, hone_trust_store_holder, trust, ann_hex);
    CHECK(strcmp(holder, "ann") == 0);
    CHECK_STRING(holder, hone_trust_store_holder, trust, ci_hex);
    CHECK(strcmp(holder, "ci") == 0);
    {
        size_t needed = 99;
        CHECK(hone_trust_store_holder(trust, "00", holder, sizeof holder, &needed) ==
              HONE_ERROR_NOT_FOUND);
        CHECK(needed == 99);
    }
    CHECK(hone_trust_store_parse("ci optimizer\n", 13, "team.trust", &bad) == HONE_ERROR_FORMAT);
    CHECK(strstr(hone_last_error(), "team.trust line 1: expected 3 fields") != NULL);
    CHECK(bad == NULL);
    CHECK(hone_trust_store_load("/nonexistent/trust", &bad) == HONE_ERROR_IO);
    hone_trust_store_destroy(NULL);

    snprintf(path, sizeof path, "%s/model.bin", dir);
    write_text(path, model);
    snprintf(text, sizeof text, "%s/trusted.jsonl", dir);
    CHECK(hone_ledger_open(text, &ledger) == HONE_OK);
    hone_change_record_init(&r);
    r.action = HONE_LEDGER_OPTIMIZE;
    r.actor = "ci";
    artifacts[0] = path;
    r.artifact_paths = artifacts;
    r.artifact_count = 1;
    r.metrics = METRICS;
    r.policy = "{\"tier\":\"low\",\"required_approvals\":1}";
    r.decision = "{\"verdict\":\"needs_signoff\",\"approvals_required\":1}";
    CHECK(hone_ledger_append(ledger, &r, ci, &seq) == HONE_OK && seq == 1);
    hone_change_record_init(&r);
    r.action = HONE_LEDGER_APPROVE;
    r.actor = "ci";
    r.subject = 1;
    CHECK(hone_ledger_append(ledger, &r, ci, &seq) == HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "separation of duties") != NULL);
    r.actor = "mallory"; /* a key the trust store does not list */
    CHECK(hone_ledger_append_trusted(ledger, &r, mallory_key, trust, &seq) ==
          HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "is not in team.trust") != NULL);
    CHECK(hone_ledger_append_trusted(ledger, &r, NULL, trust, &seq) ==
          HONE_ERROR_INVALID_ARGUMENT); /* unsigned, with a trust store */
    r.actor = "ann";
    CHECK(hone_ledger_append_trusted(ledger, &r, ann, trust, &seq) == HONE_OK && seq == 2);

    /* verify params with a trust store and strict mode */
    CHECK(hone_verify_params_init(&vp) == HONE_OK);
    vp.trust = trust;
    vp.strict = 1;
    CHECK(hone_ledger_check_artifact(ledger, path, &vp, &as) == HONE_OK);
    CHECK(as.verdict == HONE_ARTIFACT_APPROVED);

    CHECK(hone_load_check_params_init(&lp) == HONE_OK);
    lp.ledger_path = text;
    lp.trust = trust;
    lp.strict = 1;
    CHECK(hone_load_check_buffer(model, strlen(model), &lp, &result) == HONE_OK);
    CHECK(hone_load_check_get(result, &info) == HONE_OK);
    CHECK(info.verdict == HONE_ARTIFACT_APPROVED);
    CHECK(info.matched_record == 1 && info.chain_records == 2 && info.chain_intact == 1);
    CHECK(info.decision_rederived == 1 && info.strict == 1);
    CHECK(info.approvals_required == 1 && info.approvals_counted == 1);
    CHECK(info.bytes == strlen(model) && strlen(info.sha256) == 64);
    CHECK(strcmp(info.signer_holder, "ci") == 0);
    CHECK(strstr(info.json, "\"holder\":\"ann\"") != NULL);
    CHECK(strstr(info.json, "\"decision_rederived\":true") != NULL);
    hone_load_check_destroy(result);
    result = NULL;

    /* one byte different: not recorded */
    CHECK(hone_load_check_buffer("the bytes an engine loadz", strlen(model), &lp, &result) ==
          HONE_OK);
    CHECK(hone_load_check_get(result, &info) == HONE_OK);
    CHECK(info.verdict == HONE_ARTIFACT_UNKNOWN && info.matched_record == 0);
    hone_load_check_destroy(result);
    result = NULL;

    /* the open file descriptor, its offset left alone */
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(lseek(fd, 5, SEEK_SET) == 5);
    CHECK(hone_load_check_fd(fd, &lp, &result) == HONE_OK);
    CHECK(hone_load_check_get(result, &info) == HONE_OK);
    CHECK(info.verdict == HONE_ARTIFACT_APPROVED);
    CHECK(lseek(fd, 0, SEEK_CUR) == 5);
    hone_load_check_destroy(result);
    close(fd);
    CHECK(hone_load_check_fd(-1, &lp, &result) == HONE_ERROR_INVALID_ARGUMENT);

    /* a trust store without ann's key: her approval does not count */
    snprintf(path, sizeof path, "ci optimizer %s\n", ci_hex);
    CHECK(hone_trust_store_parse(path, strlen(path), NULL, &bad) == HONE_OK);
    lp.trust = bad;
    lp.strict = 0;
    CHECK(hone_load_check_buffer(model, strlen(model), &lp, &result) == HONE_OK);
    CHECK(hone_load_check_get(result, &info) == HONE_OK);
    CHECK(info.verdict == HONE_ARTIFACT_NEEDS_SIGNOFF && info.approvals_counted == 0);
    CHECK(strstr(info.json, "not in the trust store") != NULL);
    hone_load_check_destroy(result);
    lp.strict = 1; /* strict: the unknown key fails the whole check */
    CHECK(hone_load_check_buffer(model, strlen(model), &lp, &result) == HONE_OK);
    CHECK(hone_load_check_get(result, &info) == HONE_OK);
    CHECK(info.verdict == HONE_ARTIFACT_UNKNOWN && strstr(info.reason, "strict") != NULL);
    hone_load_check_destroy(result);
    lp.ledger_path = NULL;
    CHECK(hone_load_check_buffer(model, strlen(model), &lp, &result) ==
          HONE_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(hone_last_error(), "ledger_path") != NULL);
    hone_load_check_destroy(NULL);

    check_cyclonedx(ledger, ci_hex);

    hone_trust_store_destroy(bad);
    hone_trust_store_destroy(trust);
    hone_ledger_destroy(ledger);
    hone_key_destroy(ci);
    hone_key_destroy(ann);
    hone_key_destroy(mallory_key);
}

int main(void) {
    char dir[] = "/tmp/hone-capi-ledger-XXXXXX";
    char ledger_path[256], model_path[256], key_path[256], cmd[300];
    hone_key *alice = NULL, *mallory = NULL, *loaded = NULL;
    hone_ledger* ledger = NULL;
    hone_change_record r;
    hone_verify_params vp;
    hone_verify_result vr = {.struct_size = sizeof(hone_verify_result)};
    hone_artifact_status as = {.struct_size = sizeof(hone_artifact_status)};
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
    CHECK(hone_key_public_hex(alice, alice_hex, sizeof alice_hex, NULL) == HONE_OK);
    CHECK(strlen(alice_hex) == 64);
    CHECK(hone_key_save_pem(alice, key_path) == HONE_OK);
    CHECK(hone_key_load_pem(key_path, &loaded) == HONE_OK);
    CHECK(hone_key_public_hex(loaded, loaded_hex, sizeof loaded_hex, NULL) == HONE_OK);
    CHECK(strcmp(alice_hex, loaded_hex) == 0);
    hone_key_destroy(loaded);
    loaded = NULL;
    {
        /* RFC 8032 section 7.1, TEST 1: this secret key (PKCS#8) has public key d75a98…511a. */
        char hex[80];
        snprintf(key_path, sizeof key_path, "%s/rfc8032.pem", dir);
        write_text(key_path, "-----BEGIN PRIVATE KEY-----\n"
                             "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
                             "-----END PRIVATE KEY-----\n");
        CHECK(hone_key_load_pem(key_path, &loaded) == HONE_OK);
        CHECK_STRING(hex, hone_key_public_hex, loaded);
        CHECK(strcmp(hex, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a") == 0);
    }
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
    r.metrics = METRICS;
    r.policy = "{\"tier\":\"low\",\"required_approvals\":1}";
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
        CHECK(hone_key_public_hex(mallory, mallory_hex, sizeof mallory_hex, NULL) == HONE_OK);
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
    snprintf(cmd, sizeof cmd, "sed -i 's/0.897/0.997/' %s", ledger_path);
    CHECK(system(cmd) == 0);
    CHECK(hone_ledger_verify(ledger, NULL, &vr) == HONE_OK && vr.ok == 0 && vr.first_bad == 2);
    r.artifact_count = 0;
    CHECK(hone_ledger_append(ledger, &r, NULL, &seq) == HONE_ERROR_VERIFICATION_FAILED);
    CHECK(strstr(hone_last_error(), "does not verify at line 2") != NULL);

    hone_ledger_destroy(ledger);
    hone_ledger_destroy(NULL);
    check_trust_and_load(dir);
    hone_key_destroy(alice);
    hone_key_destroy(mallory);
    hone_key_destroy(loaded);
    hone_key_destroy(NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 2;
    if (failures == 0) printf("C ABI ledger: all checks passed\n");
    return failures ? 1 : 0;
}
