// hone::model: weights by name, attributes, validate() (order, duplicates, missing, cycles).
#include <hone/core/error.hpp>
#include <hone/model/model.hpp>

#include <doctest/doctest.h>

#include <functional>

using namespace hone;

namespace {
node make(std::string name, std::string op, std::vector<std::string> in,
          std::vector<std::string> out) {
    node n;
    n.name = std::move(name);
    n.op_type = std::move(op);
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}
model chain() {
    model m;
    m.inputs.push_back({"x", dtype::f32, {{-1, "N"}, {4, ""}}, true});
    m.outputs.push_back({"z", dtype::f32, {}, false});
    m.set_weight("w", tensor(dtype::f32, shape{4, 4}));
    // Deliberately out of order: z needs y.
    m.nodes.push_back(make("second", "Relu", {"y"}, {"z"}));
    m.nodes.push_back(make("first", "MatMul", {"x", "w"}, {"y"}));
    return m;
}
status code_of(const std::function<void()>& f, std::string* msg = nullptr) {
    try {
        f();
    } catch (const hone::error& e) {
        if (msg) *msg = e.what();
        return e.code();
    }
    return status::ok;
}
} // namespace

TEST_CASE("model: weights are name-addressable, cloned deeply, and guarded") {
    auto m = chain();
    CHECK(m.has_weight("w"));
    CHECK(m.weight_count() == 1);
    CHECK(m.weight_bytes() == 64);
    CHECK(m.origin("w") == weight_origin::created);
    m.weight("w").span<float>()[0] = 3.0f;
    const auto c = m.clone();
    m.weight("w").span<float>()[0] = 5.0f;
    CHECK(c.weight("w").span<float>()[0] == 3.0f);
    CHECK(code_of([&] { (void)m.weight("v"); }) == status::not_found);
    CHECK(code_of([&] { m.set_weight("y", tensor()); }) ==
          status::invalid_argument); // a node output
    CHECK(code_of([&] { m.set_weight("x", tensor()); }) == status::invalid_argument); // an input
    CHECK(code_of([&] { m.set_weight("", tensor()); }) == status::invalid_argument);
    CHECK(m.remove_weight("w"));
    CHECK(!m.remove_weight("w"));
    CHECK(m.unique_name("y") == "y_1");
    CHECK(m.unique_name("fresh") == "fresh");
    CHECK(m.producer("y")->name == "first");
    CHECK(m.find_node("second")->op_type == "Relu");
}

TEST_CASE("node: typed attribute getters") {
    auto n = make("c", "Conv", {}, {});
    n.attributes["group"] = attribute::of_int(2);
    n.attributes["pads"] = attribute::of_ints({1, 1, 1, 1});
    n.attributes["auto_pad"] = attribute::of_string("NOTSET");
    CHECK(n.get_int("group", 1) == 2);
    CHECK(n.get_int("absent", 7) == 7);
    CHECK(n.get_ints("pads", {}).size() == 4);
    CHECK(n.get_string("auto_pad", "") == "NOTSET");
    std::string msg;
    CHECK(code_of([&] { (void)n.get_float("group", 0); }, &msg) == status::format_error);
    CHECK(msg.find("'group'") != std::string::npos);
    CHECK(msg.find("Conv 'c'") != std::string::npos);
}

TEST_CASE("validate: a stable topological order, and clear errors") {
    auto m = chain();
    CHECK(validate(m) == std::vector<std::size_t>{1, 0});
    std::string msg;
    {
        auto bad = chain();
        bad.nodes[0].inputs[0] = "nowhere";
        CHECK(code_of([&] { validate(bad); }, &msg) == status::format_error);
        CHECK(msg.find("'nowhere'") != std::string::npos);
    }
    {
        auto bad = chain();
        bad.nodes.push_back(make("third", "Relu", {"x"}, {"y"}));
        CHECK(code_of([&] { validate(bad); }, &msg) == status::format_error);
        CHECK(msg.find("'y'") != std::string::npos);
    }
    {
        auto bad = chain();
        bad.nodes.push_back(make("first", "Relu", {"x"}, {"q"}));
        CHECK(code_of([&] { validate(bad); }, &msg) == status::format_error);
        CHECK(msg.find("'first'") != std::string::npos);
    }
    {
        auto bad = chain(); // y = MatMul(x, w) needs z; z = Relu(y): a cycle
        bad.nodes[1].inputs[0] = "z";
        bad.nodes.push_back(make("after", "Relu", {"z"}, {"q"}));
        CHECK(code_of([&] { validate(bad); }, &msg) == status::format_error);
        CHECK(msg.find("cycle") != std::string::npos);
        CHECK((msg.find("'first'") != std::string::npos ||
               msg.find("'second'") != std::string::npos));
    }
    {
        auto bad = chain();
        bad.outputs[0].name = "nothing";
        CHECK(code_of([&] { validate(bad); }, &msg) == status::format_error);
        CHECK(msg.find("'nothing'") != std::string::npos);
    }
    {
        auto bad = chain();
        bad.nodes[0].name.clear();
        CHECK(code_of([&] { validate(bad); }) == status::format_error);
    }
}
