/* Language-model checkpoints through the C ABI: hone_checkpoint_quantize on the language-model
 * fixture's checkpoint (tests/fixtures/lm/hf) to GGUF Q8_0 and to compressed-tensors int8,
 * each validated, decided and recorded; the same run on two ranks (threads, messages through
 * hone_process_group's callbacks) writing the same bytes and figures; bad parameters refused
 * by name. */
#define _POSIX_C_SOURCE 200809L
#include <hone/hone.h>

#include <pthread.h>
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

/* Two ranks as threads: a queue of messages per (from, to), under one lock. */
typedef struct message {
    struct message* next;
    void* data;
    size_t bytes;
} message;
static pthread_mutex_t box_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t box_ready = PTHREAD_COND_INITIALIZER;
static message* box_head[2][2]; /* [from][to] */
static message* box_tail[2][2];

static int thread_send(void* context, int to, const void* data, size_t bytes) {
    const int from = *(const int*)context;
    message* m = malloc(sizeof *m);
    if (!m) return -1;
    m->next = NULL;
    m->bytes = bytes;
    m->data = bytes ? malloc(bytes) : NULL;
    if (bytes && !m->data) {
        free(m);
        return -1;
    }
    if (bytes) memcpy(m->data, data, bytes);
    pthread_mutex_lock(&box_lock);
    if (box_tail[from][to])
        box_tail[from][to]->next = m;
    else
        box_head[from][to] = m;
    box_tail[from][to] = m;
    pthread_cond_broadcast(&box_ready);
    pthread_mutex_unlock(&box_lock);
    return 0;
}

static int thread_receive(void* context, int from, void** data, size_t* bytes) {
    const int to = *(const int*)context;
    message* m;
    pthread_mutex_lock(&box_lock);
    while (!box_head[from][to])
        pthread_cond_wait(&box_ready, &box_lock);
    m = box_head[from][to];
    box_head[from][to] = m->next;
    if (!m->next) box_tail[from][to] = NULL;
    pthread_mutex_unlock(&box_lock);
    *data = m->data;
    *bytes = m->bytes;
    free(m);
    return 0;
}

typedef struct rank_run {
    int rank;
    hone_process_group group;
    hone_checkpoint_params params;
    hone_checkpoint_summary summary;
    hone_status status;
} rank_run;

static void* run_rank(void* arg) {
    rank_run* r = arg;
    r->status = hone_checkpoint_quantize(&r->params, &r->summary);
    return NULL;
}

/* 1 when the two files hold the same bytes. */
static int same_file(const char* a, const char* b) {
    FILE* fa = fopen(a, "rb");
    FILE* fb = fopen(b, "rb");
    int same = fa && fb, ca, cb;
    while (same) {
        ca = fgetc(fa);
        cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
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

    /* The same run on two ranks: the same GGUF bytes and figures; rank 0 records. */
    {
        rank_run ranks[2];
        pthread_t threads[2];
        char ranks_out[512], ranks_ledger[512];
        int r;
        snprintf(ranks_out, sizeof ranks_out, "%s/ranks.gguf", tmp);
        snprintf(ranks_ledger, sizeof ranks_ledger, "%s/ranks.jsonl", tmp);
        for (r = 0; r < 2; ++r) {
            ranks[r].rank = r;
            ranks[r].group.struct_size = sizeof ranks[r].group;
            ranks[r].group.rank = r;
            ranks[r].group.size = 2;
            ranks[r].group.context = &ranks[r].rank;
            ranks[r].group.send = thread_send;
            ranks[r].group.receive = thread_receive;
            ranks[r].params = p;
            ranks[r].params.out = ranks_out;
            ranks[r].params.ledger = ranks_ledger;
            ranks[r].params.group = &ranks[r].group;
            memset(&ranks[r].summary, 0, sizeof ranks[r].summary);
            ranks[r].summary.struct_size = sizeof ranks[r].summary;
            CHECK(pthread_create(&threads[r], NULL, run_rank, &ranks[r]) == 0);
        }
        for (r = 0; r < 2; ++r)
            CHECK(pthread_join(threads[r], NULL) == 0);
        for (r = 0; r < 2; ++r) {
            CHECK(ranks[r].status == HONE_OK);
            CHECK(ranks[r].summary.verdict == s.verdict);
            CHECK(ranks[r].summary.perplexity_change == s.perplexity_change);
            CHECK(ranks[r].summary.mean_kl == s.mean_kl);
            CHECK(ranks[r].summary.output_bytes == s.output_bytes);
        }
        CHECK(ranks[0].summary.record_seq == 1 && ranks[1].summary.record_seq == -1);
        CHECK(same_file(out, ranks_out));

        /* A group that names no rank of itself is refused by name. */
        ranks[0].group.rank = 2;
        CHECK_FAILS(hone_checkpoint_quantize(&ranks[0].params, &ranks[0].summary),
                    HONE_ERROR_INVALID_ARGUMENT, "params->group");
    }

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
