// The report: JSON members and values, HTML escaping, well-formed inline SVG, Pareto frontier.
#include "sample_report.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>

#include <doctest/doctest.h>

#include <regex>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using hone::pipeline::candidate_point;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("hone_cli_report_" + std::to_string(::getpid()));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
};

// Tags of an XML fragment balance (self-closing tags aside); returns the first problem.
std::string tag_problem(const std::string& xml) {
    std::vector<std::string> open;
    const std::regex tag(R"(<(/?)([a-zA-Z][a-zA-Z0-9]*)([^<>]*?)(/?)>)");
    for (auto it = std::sregex_iterator(xml.begin(), xml.end(), tag); it != std::sregex_iterator();
         ++it) {
        const auto& m = *it;
        const std::string name = m[2];
        if (m[4] == "/") continue;
        if (m[1] == "/") {
            if (open.empty() || open.back() != name)
                return "</" + name + "> closes " +
                       (open.empty() ? "nothing" : "<" + open.back() + ">");
            open.pop_back();
        } else {
            open.push_back(name);
        }
    }
    return open.empty() ? std::string() : "<" + open.back() + "> is never closed";
}

std::string body_of(const std::string& html) {
    const auto begin = html.find("<body>"), end = html.find("</body>");
    REQUIRE(begin != std::string::npos);
    REQUIRE(end != std::string::npos);
    return html.substr(begin, end + 7 - begin);
}

std::vector<std::string> svgs(const std::string& html) {
    std::vector<std::string> out;
    for (std::size_t at = html.find("<svg"); at != std::string::npos;
         at = html.find("<svg", at + 1)) {
        const std::size_t end = html.find("</svg>", at);
        REQUIRE(end != std::string::npos);
        out.push_back(html.substr(at, end + 6 - at));
    }
    return out;
}

} // namespace

TEST_CASE("html_escape and format_bytes") {
    CHECK(hone::pipeline::html_escape("<a href=\"x\">Tom & Jerry's</a>") ==
          "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    CHECK(hone::pipeline::html_escape("") == "");
    CHECK(hone::pipeline::format_bytes(512) == "512 B");
    CHECK(hone::pipeline::format_bytes(2048) == "2.0 KiB");
    CHECK(hone::pipeline::format_bytes(3.5 * 1024 * 1024) == "3.50 MiB");
}

TEST_CASE("Pareto frontier over accuracy, size and latency") {
    std::vector<candidate_point> p = {
        {"base", 0.90, 4000, 1.0, "", true},
        {"int8", 0.895, 1000, 0.5, "approved", false},
        {"int4", 0.88, 500, 0.6, "approved", false},
        {"worse", 0.87, 1200, 0.7, "rejected", false}, // dominated by int8 everywhere
        {"fast", 0.86, 900, 0.2, "rejected", false},   // only the latency frontier
    };
    const auto f = hone::pipeline::pareto_frontier(p);
    CHECK(f[0].size);
    CHECK(f[1].size);
    CHECK(f[2].size);
    CHECK_FALSE(f[3].size);
    CHECK_FALSE(f[3].latency);
    CHECK_FALSE(f[3].all);
    CHECK_FALSE(f[4].size); // int4 is more accurate and smaller
    CHECK(f[4].latency);    // but nothing is faster
    CHECK(f[4].all);
    CHECK_FALSE(f[2].latency); // int8 is more accurate and faster than int4
    // Equal points do not dominate each other.
    std::vector<candidate_point> same = {{"a", 0.5, 10, std::nullopt, "", false},
                                         {"b", 0.5, 10, std::nullopt, "", false}};
    const auto s = hone::pipeline::pareto_frontier(same);
    CHECK(s[0].size);
    CHECK(s[1].size);
    CHECK_FALSE(s[0].latency); // no latency: not on the latency frontier
}

TEST_CASE("the report: JSON values, escaped HTML, well-formed SVG") {
    temp_dir t;
    const auto key = hone::signing_key::generate();
    const auto made = sample::make(t.path / "ledger.jsonl", key);
    const auto& in = made.inputs;
    const json j = hone::pipeline::report_json(in);

    // The members optimize --json promises.
    CHECK(j["decision"]["verdict"] == "approved");
    CHECK(j["decision"]["reasons"].is_array());
    CHECK(j["decision"]["reasons"].size() == in.decision.reasons.size());
    // The figures: the validation report in the schema the ledger's record stores.
    const json& m = j["metrics"];
    CHECK(m == json::parse(in.validation.to_json()));
    for (const char* side : {"baseline", "candidate"}) {
        CHECK(m[side]["accuracy"].is_number());
        CHECK(m[side]["model_bytes"].is_number());
    }
    CHECK(m["accuracy"]["baseline"].get<double>() == doctest::Approx(0.9));
    CHECK(m["baseline"]["model_bytes"] == 4000);
    CHECK(m["candidate"]["model_bytes"] == 1000);
    CHECK(m["accuracy"]["candidate"].get<double>() ==
          doctest::Approx(in.validation.comparison.candidate_accuracy));
    CHECK(m["accuracy"]["candidate"].get<double>() < 0.9);
    CHECK(m["latency"].size() == 2);
    CHECK(m["latency"][1]["batch"] == 64);
    CHECK(m["slices"].size() == 6); // 4 classes + 2 named
    CHECK(m["slices"][0]["name"] == "class 0 (T-shirt <top>)");
    CHECK(m["slices"][0]["baseline_accuracy"].get<double>() ==
          doctest::Approx(0.8)); // wrong on i % 20 == 0: 50 of 250
    CHECK(j["ledger"]["seq"] == 1);
    CHECK(j["ledger"]["signed"] == true);
    CHECK(j["ledger"]["signer"] == key.public_key_hex());
    CHECK(j["ledger"]["sha256"] == hone::sha256_hex(in.record->line));
    CHECK(j["ledger"]["verified"] == true);
    CHECK(j["layers"].size() == 3);
    CHECK(j["candidates"].size() == 5);
    CHECK(j["candidates"][4]["pareto_size"] == false); // cluster16 (dominated)
    CHECK(j["candidates"][0]["pareto_size"] == true);  // the baseline: most accurate
    CHECK(j["policy"]["tier"] == "low");

    const std::string html = hone::pipeline::render_html(j);
    // Values present.
    CHECK(html.find("APPROVED") != std::string::npos);
    CHECK(html.find("90.00%") != std::string::npos);
    CHECK(html.find(hone::pipeline::format_bytes(4000)) != std::string::npos);
    CHECK(html.find(key.public_key_hex()) != std::string::npos);
    CHECK(html.find(hone::sha256_hex(in.record->line)) != std::string::npos);
    CHECK(html.find("latency p99, batch 64") != std::string::npos);
    CHECK(html.find("throughput, batch 64") != std::string::npos);
    CHECK(html.find("41.5 dB") != std::string::npos);
    for (const auto& r : in.decision.reasons)
        CHECK(html.find(hone::pipeline::html_escape(r.text)) != std::string::npos);
    for (const char* id :
         {"summary", "reasons", "slices", "layers", "candidates", "ledger", "policy"})
        CHECK(html.find(std::string("id=\"") + id + "\"") != std::string::npos);
    // Escaped, never raw.
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") != std::string::npos);
    CHECK(html.find("T-shirt &lt;top&gt;") != std::string::npos);
    CHECK(html.find("Trouser &amp; &quot;pants&quot;") != std::string::npos);
    CHECK(html.find("fc2 &lt;&amp;&gt;") != std::string::npos);
    CHECK(html.find("toy &lt;model&gt;") != std::string::npos);
    CHECK(html.find("T-shirt <top>") == std::string::npos);
    // Self-contained.
    for (const char* external : {" src=", "<link", "@import", "url(", "https://"})
        CHECK(html.find(external) == std::string::npos);
    // SVG: forest plot, SQNR bars, two scatter plots; each well-formed.
    const auto charts = svgs(html);
    CHECK(charts.size() == 4);
    for (const auto& svg : charts) {
        CHECK(tag_problem(svg) == "");
        CHECK(svg.find("xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
        CHECK(svg.find("nan") == std::string::npos);
        CHECK(svg.find("inf") == std::string::npos);
    }
    CHECK(charts[2].find("class=\"frontier\"") != std::string::npos);
    CHECK(charts[1].find("<rect") != std::string::npos);
    CHECK(tag_problem(body_of(html)) == "");

    // Saved: both files, and the HTML is a function of the JSON alone.
    hone::pipeline::write_report(t.path / "out", j);
    const json reread = json::parse(hone::read_file(t.path / "out" / "report.json"));
    CHECK(hone::pipeline::render_html(reread) == hone::read_file(t.path / "out" / "report.html"));
}

TEST_CASE("rejected and needs-signoff verdicts render; junk input is tolerated or refused") {
    temp_dir t;
    const auto key = hone::signing_key::generate();
    auto made = sample::make(t.path / "ledger.jsonl", key, hone::risk_tier::critical);
    const json j = hone::pipeline::report_json(made.inputs);
    CHECK(j["decision"]["verdict"] != "approved");
    const std::string html = hone::pipeline::render_html(j);
    CHECK((html.find("REJECTED") != std::string::npos ||
           html.find("NEEDS SIGN-OFF") != std::string::npos));
    CHECK(html.find("class=\"failed\"") != std::string::npos);

    // Wrong types leave members out; a non-object is an error.
    const json junk = {{"title", 5},
                       {"metrics", {{"baseline", "x"}, {"slices", {1, 2}}, {"latency", 3}}},
                       {"candidates", {{{"accuracy", "hi"}}}}};
    const std::string page = hone::pipeline::render_html(junk);
    CHECK(page.find("NO DECISION") != std::string::npos);
    CHECK(tag_problem(body_of(page)) == "");
    CHECK_THROWS_AS(hone::pipeline::render_html(json::array()), hone::error);
    // An unwritable folder: io_error, nothing written.
    hone::write_file_atomic(t.path / "file", "x");
    CHECK_THROWS_AS(hone::pipeline::write_report(t.path / "file" / "sub", j), hone::error);
}
