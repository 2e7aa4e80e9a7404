#include "hone/graph/runner.hpp"

namespace hone {

runner::~runner() = default;

function_runner::function_runner(std::string name, function fn, std::uint64_t model_bytes, work w)
    : name_(std::move(name)), fn_(std::move(fn)), bytes_(model_bytes), work_(w) {}

} // namespace hone
