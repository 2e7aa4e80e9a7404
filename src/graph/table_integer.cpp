// Already-quantized layers of the default domain run through the executor's op table:
// QLinearConv and QLinearMatMul (integer products, then requantized to the output grid).
#include "op_table.hpp"
#include "ops/requantize.hpp"

#include <fmt/format.h>

namespace hone::op_table {

namespace {

// Input i, or absent.
optional_view at(std::span<const optional_view> in, std::size_t i) {
    return i < in.size() ? in[i] : std::nullopt;
}

entry qlinear_conv() {
    entry e;
    e.path = "ops::conv_integer + ops::requantize (integer reference)";
    e.compile = [](const context& c) {
        const ops::conv_params p{parse_spatial(c.n), c.n.get_int("group", 1)};
        return kernel([p](std::span<const optional_view> in, double& macs) {
            const char* op = "QLinearConv";
            const auto w = required(in, 3, op);
            auto acc = ops::conv_integer(required(in, 0, op), w, at(in, 2), at(in, 5), p);
            macs += static_cast<double>(acc.numel()) *
                    static_cast<double>(w.numel() / std::max<std::int64_t>(1, w.dims()[0]));
            std::vector<tensor> out;
            out.push_back(ops::requantize(acc.view(), required(in, 1, op), required(in, 4, op),
                                          required(in, 6, op), at(in, 7), at(in, 8), 1));
            return out;
        });
    };
    return e;
}

entry qlinear_matmul() {
    entry e;
    e.path = "ops::matmul_integer + ops::requantize (integer reference)";
    e.compile = [](const context&) {
        return kernel([](std::span<const optional_view> in, double& macs) {
            const char* op = "QLinearMatMul";
            const auto a = required(in, 0, op);
            auto acc = ops::matmul_integer(a, required(in, 3, op), at(in, 2), at(in, 5));
            macs += static_cast<double>(acc.numel()) *
                    static_cast<double>(a.rank() ? a.dims()[a.rank() - 1] : 0);
            std::vector<tensor> out;
            out.push_back(ops::requantize(acc.view(), required(in, 1, op), required(in, 4, op),
                                          required(in, 6, op), at(in, 7), std::nullopt, -1));
            return out;
        });
    };
    return e;
}

} // namespace

void add_integer_ops(table& t) {
    t["QLinearConv"] = qlinear_conv();
    t["QLinearMatMul"] = qlinear_matmul();
}

} // namespace hone::op_table
