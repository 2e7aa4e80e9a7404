// The table of operators the executor runs without special planning (see op_table.hpp).
#include "op_table.hpp"

#include "hone/core/error.hpp"

#include <fmt/format.h>

namespace hone::op_table {

const table& standard_ops() {
    static const table t = [] {
        table r;
        add_math_ops(r);
        add_indexing_ops(r);
        add_recurrent_ops(r);
        return r;
    }();
    return t;
}

const_tensor_view required(std::span<const optional_view> in, std::size_t i, const char* op) {
    if (i >= in.size() || !in[i])
        fail(status::invalid_argument, fmt::format("{}: input {} is missing", op, i));
    return *in[i];
}

} // namespace hone::op_table
