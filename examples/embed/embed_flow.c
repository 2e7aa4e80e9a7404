/* embed_flow.c — an engine embeds hone's whole controlled change from C99: it streams its own
 * evaluation samples to hone_optimize (here, images read from an NPY-free raw float file or,
 * without one, synthetic images), follows the stages on stderr, and prints the verdict, the
 * artifact and the ledger record.
 *
 *   hone_embed_flow MODEL.onnx CALIB_SPEC OUT.onnx LEDGER.jsonl [RAW_F32_FILE SAMPLE_SIZE]
 *
 * CALIB_SPEC is a data spec (e.g. fashion-mnist:train:256, X.npy). RAW_F32_FILE holds samples
 * of SAMPLE_SIZE little-endian floats each; without it 128 synthetic samples of the model's
 * 784 inputs are streamed. Exit status: 0 approved, 10 needs sign-off, 20 rejected, 1 error —
 * as `hone optimize`. */
#include <hone/hone.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct source {
    FILE* file;     /* raw f32 samples, or NULL for synthetic ones */
    int64_t sample; /* floats per sample */
    int64_t total;  /* synthetic samples */
} source;

static hone_status read_samples(void* user, int64_t first, int64_t capacity, float* inputs,
                                int64_t* labels, int64_t* count) {
    source* s = (source*)user;
    int64_t i, k;
    (void)labels; /* no labels: hone measures agreement with the baseline */
    if (s->file) {
        *count =
            (int64_t)fread(inputs, sizeof(float) * (size_t)s->sample, (size_t)capacity, s->file);
        return ferror(s->file) ? HONE_ERROR_IO : HONE_OK;
    }
    *count = s->total - first < capacity ? s->total - first : capacity;
    for (i = 0; i < *count; ++i)
        for (k = 0; k < s->sample; ++k)
            inputs[i * s->sample + k] = (float)(((first + i) * 31 + k * 7) % 255) / 255.0f;
    return HONE_OK;
}

static int on_progress(void* user, const char* stage, uint64_t done, uint64_t total) {
    (void)user;
    if (total > 0 && done == total) fprintf(stderr, "  %s: done\n", stage);
    return 1; /* return 0 to cancel */
}

static void on_note(void* user, const char* text) {
    (void)user;
    fprintf(stderr, "  %s\n", text);
}

int main(int argc, char** argv) {
    hone_optimize_params p;
    hone_optimize_result* r = NULL;
    hone_optimize_summary s;
    source src = {NULL, 784, 128};
    int64_t shape[1];
    char artifact[4096];
    static const char* verdicts[] = {"approved", "needs sign-off", "rejected"};
    if (argc != 5 && argc != 7) {
        fprintf(stderr,
                "usage: %s MODEL.onnx CALIB_SPEC OUT.onnx LEDGER.jsonl "
                "[RAW_F32_FILE SAMPLE_SIZE]\n",
                argv[0]);
        return 1;
    }
    if (argc == 7) {
        src.file = fopen(argv[5], "rb");
        src.sample = atoll(argv[6]);
        if (!src.file || src.sample < 1) {
            fprintf(stderr, "cannot read %s as samples of %s floats\n", argv[5], argv[6]);
            return 1;
        }
    }
    shape[0] = src.sample;
    hone_optimize_params_init(&p);
    p.model = argv[1];
    p.recipe = "int8";
    p.calib.spec = argv[2];
    p.eval.read = read_samples; /* the engine's own samples */
    p.eval.user = &src;
    p.eval.sample_shape = shape;
    p.eval.sample_rank = 1;
    p.policy = "low";
    p.out = argv[3];
    p.ledger = argv[4];
    p.progress = on_progress;
    p.note = on_note;
    if (hone_optimize(&p, &r) != HONE_OK) {
        fprintf(stderr, "hone_optimize: %s\n", hone_last_error());
        if (src.file) fclose(src.file);
        return 1;
    }
    if (src.file) fclose(src.file);
    s.struct_size = sizeof s;
    hone_optimize_result_summary(r, &s);
    hone_optimize_result_artifact(r, 0, artifact, sizeof artifact, NULL, NULL);
    printf("verdict: %s\nartifact: %s (%llu bytes)\nledger records: baseline %lld, change %lld\n",
           verdicts[s.verdict], artifact, (unsigned long long)s.artifact_bytes,
           (long long)s.baseline_seq, (long long)s.record_seq);
    hone_optimize_result_destroy(r);
    return s.verdict == HONE_VERDICT_APPROVED        ? 0
           : s.verdict == HONE_VERDICT_NEEDS_SIGNOFF ? 10
                                                     : 20;
}
