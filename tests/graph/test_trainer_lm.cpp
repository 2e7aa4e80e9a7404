// Training the language-model fixture (tests/fixtures/lm: a LLaMA-style byte-level decoder
// exported by torch.onnx) on the executor's operators: next-token fine-tuning lowers the loss
// on the rows it trains on, and int4 QAT with KL distillation on the logits plus layer-wise MSE
// distillation on two residual streams lowers the held-out KL against the f32 model below what
// round-to-nearest int4 gives.
#include "../model/fixture_path.hpp"
#include "hone/core/error.hpp"
#include "hone/data/arrays.hpp"
#include "hone/data/dataset.hpp"
#include "hone/graph/trainer.hpp"
#include "hone/io/onnx.hpp"
#include "hone/retrain/loss.hpp"

#include <doctest/doctest.h>

using namespace hone;

namespace {

tensor token_rows(const char* file, std::int64_t first, std::int64_t rows, std::int64_t length) {
    const auto p = test::fixtures_dir() / "lm" / file;
    const tensor all = parse_npy(read_maybe_gzip(p), p.string());
    tensor t(dtype::i64, shape{rows, length});
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < length; ++c)
            t.span<std::int64_t>()[std::size_t(r * length + c)] =
                all.span<std::int64_t>()[std::size_t((first + r) * all.dims()[1] + c)];
    return t;
}

model lm() { return load_onnx(test::fixtures_dir() / "lm" / "model.onnx"); }

double next_token_loss_of(trainable_graph& g, const tensor& tokens) {
    const tensor logits = g.forward(tokens.view(), false);
    return next_token_loss(logits.view(), tokens.span<std::int64_t>()).loss;
}

/// Mean KL(teacher ‖ student) per position on `tokens`, the student as the trainer's weights
/// (fake-quantized) written into a copy of m.
double kl_of(trainer& run, const model& m, trainable_graph& teacher, const tensor& tokens) {
    model written = m.clone();
    run.write_back(written);
    trainable_graph student(written);
    const tensor s = student.forward(tokens.view(), false);
    const tensor t = teacher.forward(tokens.view(), false);
    return distillation_loss(s.view(), t.view(), {}, 1.0f, 1.0f).loss;
}

} // namespace

TEST_CASE("language model: next-token fine-tuning lowers the loss on its rows") {
    const model m = lm();
    trainer_config cfg;
    cfg.loss = loss_kind::next_token;
    cfg.optimizer = optimizer_kind::adamw;
    cfg.learning_rate = 3e-3f;
    cfg.batch_size = 8;
    cfg.epochs = 2;
    cfg.shuffle = false;
    trainer t(trainable_graph(m), cfg);
    const dataset rows(token_rows("tokens.calib.npy", 0, 16, 64), {}, "lm calib rows");
    const double before = next_token_loss_of(t.graph(), rows.inputs());
    t.fit(rows);
    const double after = next_token_loss_of(t.graph(), rows.inputs());
    MESSAGE("next-token loss on 16 rows: " << before << " → " << after << " after 4 steps");
    CHECK(after < before);
    // A float input is refused by name.
    CHECK_THROWS_WITH_AS(t.step(tensor(dtype::f32, shape{1, 4}).view(), {}),
                         doctest::Contains("input 'tokens' is f32"), hone::error);
}

TEST_CASE("language model: int4 QAT with KL and layer-wise distillation beats RTN int4") {
    const model m = lm();
    trainer_config cfg;
    cfg.loss = loss_kind::distillation;
    cfg.temperature = 1.0f;
    cfg.optimizer = optimizer_kind::adamw;
    cfg.learning_rate = 1e-4f;
    cfg.batch_size = 8;
    cfg.epochs = 2;
    cfg.distill_values = {"/layers.1/Add_1_output_0", "/layers.3/Add_1_output_0"};
    cfg.distill_values_weight = 0.5f;
    trainer t(trainable_graph(m), cfg);
    t.set_teacher(m);
    quant_spec spec;
    spec.bits = 4;
    spec.granularity = quant_granularity::per_channel;
    spec.channel_axis = 1; // MatMul weights are [K, N]: one scale per output
    int quantized = 0;
    for (const auto& p : t.graph().parameters())
        if (t.graph().weight(p).dims().rank() == 2 && p.rfind("onnx::MatMul", 0) == 0) {
            t.set_fake_quant(p, spec);
            ++quantized;
        }
    CHECK(quantized == 29); // 7 projections × 4 blocks, and the head
    trainable_graph teacher(m);
    const tensor held_out = token_rows("tokens.eval.npy", 0, 8, 64);
    const double rtn = kl_of(t, m, teacher, held_out);
    const dataset rows(token_rows("tokens.calib.npy", 0, 32, 64), {}, "lm calib rows");
    t.fit(rows);
    const double qat = kl_of(t, m, teacher, held_out);
    MESSAGE("held-out KL(f32 ‖ int4 per-channel): RTN " << rtn << ", after 8 QAT steps " << qat);
    CHECK(qat < rtn);
    // Layer-wise distillation needs the teacher's values: a name it lacks is refused.
    trainer_config bad = cfg;
    bad.distill_values = {"no such value"};
    trainer u(trainable_graph(m), bad);
    u.set_teacher(m);
    CHECK_THROWS_AS(u.step(held_out.view(), {}), hone::error);
}
