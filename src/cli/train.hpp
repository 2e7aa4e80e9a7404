// train.hpp — `hone train`: trains a model without Python, from scratch (an MLP made by
// hone::make_mlp) or by fine-tuning an ONNX model, on a data spec (data_spec.hpp), and writes
// the ONNX atomically, with the training loop the library's flow uses for a recipe's
// `finetune` step (pipeline::fit_with_progress, src/pipeline/flow.hpp).
//
//   hone train --mlp 784,256,128,10 --seed 1 --data fashion-mnist:train --eval fashion-mnist:test
//              --epochs 10 --optimizer adamw --lr 1e-3 --schedule cosine -o mlp.onnx
//   hone train MODEL.onnx --data fashion-mnist:train:4096 --loss distill [--teacher T.onnx] -o
//   ft.onnx
//
// Refused before any training (one line, exit 1, no file): neither or both of MODEL and --mlp,
// labels missing for a labelled loss (ce, or distill with alpha < 1), an --eval without labels,
// distillation from scratch without --teacher, an op without a backward pass (named), an
// unwritable --out. A non-finite loss stops the run (exit 1) and writes nothing.
#pragma once

#include "commands.hpp"
#include "main_job.hpp"
#include <hone/pipeline/recipe.hpp>

#include <hone/data/dataset.hpp>
#include <hone/graph/trainer.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace hone::cli {

struct train_options {
    std::filesystem::path model;   ///< fine-tune this ONNX model; empty with --mlp
    std::string mlp;               ///< "784,256,128,10": a new MLP (make_mlp)
    std::uint64_t init_seed = 0;   ///< --seed: initial weights (--mlp) and data order
    std::string data;              ///< training DATA
    std::string eval;              ///< evaluation DATA (labelled); empty = none
    std::filesystem::path teacher; ///< distillation teacher; empty = the input model
    std::filesystem::path out;
    finetune_params params = [] {
        finetune_params p;
        p.epochs = 10;
        p.loss = loss_kind::cross_entropy;
        return p;
    }();
    data_arguments data_args;
};

/// "784,256,128,10" → {784, 256, 128, 10}; invalid_argument naming the text.
std::vector<std::int64_t> parse_widths(std::string_view text);

int run_train(const train_options& o, console& c);

/// Registers `hone train` (options in `o`, which must outlive parsing and the action).
void add_train_command(CLI::App& app, train_options& o, std::function<int(console&)>& action);

} // namespace hone::cli
