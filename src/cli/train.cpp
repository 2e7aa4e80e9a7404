#include "train.hpp"

#include "exit_codes.hpp"
#include "hone/data/data_spec.hpp"
#include "optimize.hpp"
#include "progress.hpp"
#include "report.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/io/digest.hpp>
#include <hone/io/onnx.hpp>

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <map>

namespace hone::cli {

namespace fs = std::filesystem;

namespace {

/// An option taking a recipe enum by its JSON name (name_of); the help shows the type name.
template <class E> CLI::Validator named(std::initializer_list<E> values) {
    std::map<std::string, E> names;
    for (const E v : values)
        names.emplace(std::string(name_of(v)), v);
    return CLI::CheckedTransformer(names).description("");
}

} // namespace
using json = nlohmann::json;

std::vector<std::int64_t> parse_widths(std::string_view text) {
    std::vector<std::int64_t> w;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const auto comma = std::min(text.find(',', pos), text.size());
        const auto part = text.substr(pos, comma - pos);
        std::int64_t v = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
        if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v < 1 ||
            v > (std::int64_t(1) << 20))
            fail(status::invalid_argument,
                 fmt::format("--mlp '{}': expected layer widths like 784,256,128,10 (positive "
                             "integers, input first, classes last)",
                             text));
        w.push_back(v);
        pos = comma + 1;
    }
    if (w.size() < 2)
        fail(status::invalid_argument,
             fmt::format("--mlp '{}': give at least the input and output widths", text));
    return w;
}

int run_train(const train_options& o, console& c) {
    // Everything that can be refused is refused before any training.
    if (o.model.empty() == o.mlp.empty())
        fail(status::invalid_argument,
             "train: give either MODEL (fine-tune an ONNX model) or --mlp WIDTHS (from scratch)");
    if (o.data.empty()) fail(status::invalid_argument, "train: --data DATA is required");
    if (o.out.empty()) fail(status::invalid_argument, "train: -o/--out FILE.onnx is required");
    const trainer_config cfg = o.params.config("train: --");
    check_writable_dir(o.out.parent_path().empty() ? fs::path(".") : o.out.parent_path(), "--out");
    if (fs::is_directory(o.out))
        fail(status::io_error,
             fmt::format("--out '{}': is a folder; give a .onnx file path", o.out.string()));

    model m = o.mlp.empty() ? load_onnx(o.model) : make_mlp(parse_widths(o.mlp), o.init_seed);
    const std::string from = o.mlp.empty() ? o.model.string() : "mlp " + o.mlp;
    std::optional<model> teacher;
    if (o.params.loss == loss_kind::distillation) {
        if (!o.teacher.empty())
            teacher = load_onnx(o.teacher);
        else if (o.mlp.empty())
            teacher = m.clone();
        else
            fail(status::invalid_argument,
                 "train: --loss distill needs --teacher MODEL when training from scratch (--mlp)");
    } else if (!o.teacher.empty()) {
        fail(status::invalid_argument, "train: --teacher is only used with --loss distill");
    }
    // The graph first: an op without a backward pass is named before any data is read.
    trainable_graph graph = [&] {
        try {
            return trainable_graph(m);
        } catch (const error& e) {
            fail(e.code(), fmt::format("train: model '{}' cannot be trained: {}", from, e.what()));
        }
    }();

    const auto data_opts = o.data_args.options(model_sample_shape(m));
    const auto train = load_data(o.data, data_opts);
    if (o.params.needs_labels() && !train.data.has_labels())
        fail(status::invalid_argument,
             fmt::format("--data '{}': has no labels, but the {} loss needs them (labels, or "
                         "--loss distill --alpha 1 with a teacher)",
                         o.data,
                         o.params.loss == loss_kind::cross_entropy ? "ce" : "distill (alpha < 1)"));
    std::optional<loaded_data> eval;
    if (!o.eval.empty()) {
        eval.emplace(load_data(o.eval, data_opts));
        if (!eval->data.has_labels())
            fail(status::invalid_argument,
                 fmt::format("--eval '{}': has no labels (top-1 accuracy needs them)", o.eval));
    }

    std::optional<double> before;
    if (eval && o.mlp.empty()) before = evaluate_accuracy(m, eval->data);
    trainer t(std::move(graph), cfg);
    if (teacher) t.set_teacher(*teacher);
    console_events ev(c);
    const auto fit = fit_with_progress(t, train.data, "train", ev.events());
    t.write_back(m);

    json params = o.params.to_json();
    params.erase("kind");
    params["data"] = o.data;
    params["seed"] = o.init_seed;
    if (o.params.loss == loss_kind::distillation)
        params["teacher"] = o.teacher.empty() ? from : o.teacher.string();
    json record{{"from", from},
                {"params", params},
                {"data", json::parse(data_json(train, data_opts))},
                {"training", fit.to_json()}};
    std::optional<double> after;
    if (eval) {
        after = evaluate_accuracy(m, eval->data);
        record["evaluation"] = {{"data", json::parse(data_json(*eval, data_opts))},
                                {"accuracy", *after}};
        if (before) record["evaluation"]["accuracy_before"] = *before;
    }
    m.producer_name = "hone";
    m.doc = json{{"hone", {{"train", record}}}}.dump();
    // Serialized in memory (and checked) first, then written atomically.
    const auto bytes = serialize_onnx(m);
    if (!o.out.parent_path().empty()) {
        std::error_code ec;
        fs::create_directories(o.out.parent_path(), ec); // checked writable above
    }
    write_file_atomic(o.out, bytes);
    const artifact_ref ref{o.out.string(), sha256_hex(bytes), bytes.size()}; // what was written
    if (c.json) {
        record["model"] = o.out.string();
        record["sha256"] = ref.sha256;
        record["bytes"] = ref.bytes;
        record["accuracy"] = after ? json(*after) : json();
        print_json(c.out, record);
    } else {
        c.out << fmt::format("wrote {} ({}): {} epoch{}, {} steps, final loss {:.4f}, {:.1f}s\n",
                             o.out.string(), format_bytes(double(ref.bytes)), fit.epochs.size(),
                             fit.epochs.size() == 1 ? "" : "s", fit.steps, fit.final_loss,
                             fit.seconds);
        if (after)
            c.out << fmt::format("top-1 {:.2f}% on {} samples of {}{}\n", 100 * *after,
                                 eval->data.size(), o.eval,
                                 before ? fmt::format(" (before: {:.2f}%)", 100 * *before) : "");
    }
    return exit_ok;
}

void add_train_command(CLI::App& app, train_options& o, std::function<int(console&)>& action) {
    auto* s = app.add_subcommand(
        "train", "Train a model without Python: a new MLP (--mlp) or fine-tune an ONNX model; "
                 "writes the ONNX atomically");
    s->add_option("MODEL", o.model, "ONNX model to fine-tune (omit with --mlp)");
    s->add_option("--mlp", o.mlp, "Train a new MLP of these widths, e.g. 784,256,128,10");
    s->add_option("--seed", o.init_seed, "Initial weights (--mlp) and data order")
        ->capture_default_str();
    s->add_option("--data", o.data, "Training DATA")->required();
    s->add_option("--eval", o.eval, "Evaluation DATA (labelled): top-1 after training");
    s->add_option("-o,--out", o.out, "The trained model to write (.onnx)")->required();
    auto& p = o.params;
    s->add_option("--epochs", p.epochs, "Epochs")->capture_default_str();
    s->add_option("--batch", p.batch, "Mini-batch size")->capture_default_str();
    s->add_option("--optimizer", p.optimizer, "sgd (momentum 0.9) or adamw")
        ->transform(named({optimizer_kind::sgd, optimizer_kind::adamw}))
        ->type_name("sgd|adamw")
        ->default_str(std::string(name_of(p.optimizer)));
    s->add_option("--lr", p.lr, "Initial learning rate")->capture_default_str();
    s->add_option("--schedule", p.schedule, "constant, cosine or step")
        ->transform(named({lr_schedule::constant, lr_schedule::cosine, lr_schedule::step}))
        ->type_name("constant|cosine|step")
        ->default_str(std::string(name_of(p.schedule)));
    s->add_option("--weight-decay", p.weight_decay, "Decoupled (adamw) or L2 (sgd)")
        ->capture_default_str();
    s->add_option("--loss", p.loss, "ce (labels) or distill (teacher)")
        ->transform(named({loss_kind::cross_entropy, loss_kind::distillation}))
        ->type_name("ce|distill")
        ->default_str(std::string(name_of(p.loss)));
    s->add_option("--teacher", o.teacher, "Distillation teacher (default: the input MODEL)");
    s->add_option("--temperature", p.temperature, "Distillation temperature")
        ->capture_default_str();
    s->add_option("--alpha", p.alpha, "Distillation weight (1 - alpha on the labels)")
        ->capture_default_str();
    s->add_option("--input-shape", o.data_args.input_shape,
                  "Shape of one sample, e.g. 784 or 1x28x28 (default: the model's input)");
    s->add_option("--mean", o.data_args.mean, "Normalize inputs: (x - mean) / std");
    s->add_option("--std", o.data_args.std, "Normalize inputs: (x - mean) / std");
    s->add_option("--subset-seed", o.data_args.seed, "Seed of the :N subsets")
        ->capture_default_str();
    s->footer("DATA: fashion-mnist:train|test[:N], IMAGES.idx[.gz][,LABELS.idx[.gz]][:N] or "
              "INPUTS.npy[,LABELS.npy][:N]. Exit 0 written, 1 error (nothing written).");
    s->callback([&] {
        o.params.seed = o.init_seed;
        action = [&](console& c) { return run_train(o, c); };
    });
}

} // namespace hone::cli
