// recipe.hpp — what `hone optimize` does to a model: built-in presets and recipe JSON files.
//
// A recipe selects layers (Gemm/MatMul with constant weights; by name glob and/or op type,
// minus exclusions), applies its steps to each selected layer in order (prune, cluster,
// quantize), may override step parameters per layer (by name glob), and says how the candidate
// runs (f32, int8 dynamic, int8 static with calibrated activation ranges). The JSON schema is
// in docs/cli.md ("Recipes"); examples/recipes/ holds an example file.
#pragma once

#include <hone/graph/executor.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hone::cli {

struct recipe_step {
    enum class kind { prune, cluster, quantize };
    kind what = kind::quantize;
    // prune
    std::string prune_method = "sparsegpt"; ///< sparsegpt, wanda, magnitude
    double sparsity = 0.5;
    int n = 0, m = 0; ///< N:M when n > 0
    // cluster
    int clusters = 16;
    std::string cluster_method = "optimal"; ///< optimal, lloyd, auto
    // quantize
    int bits = 8;
    std::string granularity = "per_channel"; ///< per_channel, per_group, per_tensor
    std::int64_t group_size = 128;           ///< per_group (a divisor of K is chosen if needed)
    std::string quant_method = "rtn";        ///< rtn, clip_search, gptq
};

struct recipe_override {
    std::string pattern; ///< layer name glob
    bool exclude = false;
    nlohmann::json step_params = nlohmann::json::object(); ///< {"prune": {...}, ...}
};

struct recipe {
    std::string name;
    exec_precision execution = exec_precision::f32;
    std::string calibration_method = "auto"; ///< activation ranges (int8 static)
    std::vector<std::string> include;        ///< name globs; empty = every layer
    std::vector<std::string> op_types = {"Gemm", "MatMul"};
    std::vector<std::string> exclude; ///< name globs
    std::vector<recipe_step> steps;
    std::vector<recipe_override> overrides;

    /// Whether a step needs the layers' calibration inputs (GPTQ, SparseGPT, Wanda).
    bool needs_layer_inputs() const;
    /// The steps for the layer `name` (overrides applied); nullopt when the layer is excluded.
    std::optional<std::vector<recipe_step>> steps_for(std::string_view name,
                                                      std::string_view op_type) const;
    nlohmann::json to_json() const;
};

/// Preset names, in the order `hone optimize --help` lists them.
const std::vector<std::string>& recipe_presets();
/// A preset by name, or a recipe JSON file. Throws invalid_argument (unknown preset, bad field),
/// io_error (unreadable file), format_error (malformed JSON) naming the recipe and field.
recipe load_recipe(std::string_view name_or_file);
/// Parses recipe JSON text; `source` names it in errors.
recipe parse_recipe(std::string_view text, std::string_view source);
/// Shell-style glob: `*` any run, `?` one character.
bool glob_match(std::string_view pattern, std::string_view text);

} // namespace hone::cli
