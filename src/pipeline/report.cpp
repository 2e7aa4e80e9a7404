#include "report.hpp"

#include <hone/core/atomic_file.hpp>
#include <hone/core/error.hpp>
#include <hone/core/version.hpp>
#include <hone/io/digest.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

namespace hone::pipeline {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Small helpers

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string format_bytes(double bytes) {
    if (!std::isfinite(bytes) || bytes < 0) return "?";
    if (bytes < 1024) return fmt::format("{:.0f} B", bytes);
    if (bytes < 1024.0 * 1024) return fmt::format("{:.1f} KiB", bytes / 1024);
    if (bytes < 1024.0 * 1024 * 1024) return fmt::format("{:.2f} MiB", bytes / (1024.0 * 1024));
    return fmt::format("{:.2f} GiB", bytes / (1024.0 * 1024 * 1024));
}

namespace {

std::string utc_now() {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

json parse_or_null(const std::string& text) {
    try {
        return json::parse(text);
    } catch (const json::exception&) {
        return nullptr;
    }
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Pareto frontier

std::vector<pareto_flags> pareto_frontier(std::span<const candidate_point> points) {
    std::vector<pareto_flags> flags(points.size());
    const auto dominates = [](const candidate_point& a, const candidate_point& b, bool size,
                              bool latency) {
        bool better = false;
        if (a.accuracy < b.accuracy) return false;
        better |= a.accuracy > b.accuracy;
        if (size) {
            if (a.model_bytes > b.model_bytes) return false;
            better |= a.model_bytes < b.model_bytes;
        }
        if (latency && a.latency_ms && b.latency_ms) {
            if (*a.latency_ms > *b.latency_ms) return false;
            better |= *a.latency_ms < *b.latency_ms;
        }
        return better;
    };
    for (std::size_t i = 0; i < points.size(); ++i) {
        bool size = true, latency = points[i].latency_ms.has_value(), all = true;
        for (std::size_t j = 0; j < points.size(); ++j) {
            if (i == j) continue;
            if (dominates(points[j], points[i], true, false)) size = false;
            if (points[j].latency_ms && dominates(points[j], points[i], false, true))
                latency = false;
            if (dominates(points[j], points[i], true, true)) all = false;
        }
        flags[i] = {size, latency, all};
    }
    return flags;
}

// ---------------------------------------------------------------------------------------------
// JSON

json report_json(const report_inputs& in) {
    const validation_report& v = in.validation;
    const comparison& c = v.comparison;
    json j;
    j["hone"] = std::string(version().text);
    j["title"] = in.title;
    j["generated"] = in.generated.empty() ? utc_now() : in.generated;
    j["model"] = in.model;
    j["recipe"] = in.recipe;
    j["confidence"] = in.confidence;
    // The figures, in the one schema the ledger's optimize record stores as `metrics`.
    j["metrics"] = parse_or_null(v.to_json());

    // The largest batch is what the policy judges and the candidates plot shows.
    const latency_point* headline = nullptr;
    for (const auto& l : v.latency)
        if (!headline || l.batch > headline->batch) headline = &l;

    json decision = parse_or_null(in.decision.to_json());
    decision["approvals_required"] = in.decision.approvals_missing;
    j["decision"] = std::move(decision);
    j["policy"] = parse_or_null(in.policy.to_json());

    if (in.record) {
        const ledger_entry& e = *in.record;
        json l = {{"path", in.ledger_path},
                  {"seq", e.seq},
                  {"sha256", sha256_hex(e.line)},
                  {"prev", e.prev},
                  {"time", e.time},
                  {"actor", e.record.actor},
                  {"action", std::string(name_of(e.record.action))},
                  {"signed", !e.signer.empty()},
                  {"signer", e.signer}};
        if (in.ledger_verification) {
            l["verified"] = in.ledger_verification->ok;
            l["problem"] = in.ledger_verification->problem;
        } else {
            l["verified"] = nullptr;
        }
        j["ledger"] = std::move(l);
    }

    if (!in.layers.empty()) {
        json layers = json::array();
        for (const auto& l : in.layers) {
            json o = {{"name", l.name},
                      {"op", l.op},
                      {"scheme", l.scheme},
                      {"bytes_before", l.bytes_before},
                      {"bytes_after", l.bytes_after}};
            o["sqnr_db"] = l.sqnr_db ? json(*l.sqnr_db) : json(nullptr);
            o["relative_error"] = l.relative_error ? json(*l.relative_error) : json(nullptr);
            if (l.kl) o["kl"] = *l.kl;
            layers.push_back(std::move(o));
        }
        j["layers"] = std::move(layers);
    }

    std::vector<candidate_point> points = in.candidates;
    if (points.empty()) {
        candidate_point b{v.baseline_name,
                          c.baseline_accuracy,
                          c.baseline_bytes.value_or(0),
                          std::nullopt,
                          "",
                          true};
        candidate_point k{v.candidate_name,
                          c.candidate_accuracy,
                          c.candidate_bytes.value_or(0),
                          std::nullopt,
                          std::string(name_of(in.decision.verdict)),
                          false};
        if (headline) {
            b.latency_ms = headline->baseline.p50_ms;
            k.latency_ms = headline->candidate.p50_ms;
        }
        points = {b, k};
    }
    const auto flags = pareto_frontier(points);
    json candidates = json::array();
    for (std::size_t i = 0; i < points.size(); ++i) {
        const auto& p = points[i];
        candidates.push_back({{"name", p.name},
                              {"accuracy", p.accuracy},
                              {"model_bytes", p.model_bytes},
                              {"latency_ms", p.latency_ms ? json(*p.latency_ms) : json(nullptr)},
                              {"verdict", p.verdict},
                              {"baseline", p.baseline},
                              {"pareto", flags[i].all},
                              {"pareto_size", flags[i].size},
                              {"pareto_latency", flags[i].latency}});
    }
    j["candidates"] = std::move(candidates);
    if (!in.search.is_null()) j["search"] = in.search;
    if (!in.budget.is_null()) j["budget"] = in.budget;
    return j;
}

// ---------------------------------------------------------------------------------------------
// HTML

namespace {

// Tolerant readers: a missing member or one of the wrong type reads as absent.
std::optional<double> num(const json& j, const char* key) {
    if (!j.is_object()) return std::nullopt;
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
}

std::string str(const json& j, const char* key) {
    if (!j.is_object()) return {};
    const auto it = j.find(key);
    if (it == j.end()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number() || it->is_boolean()) return it->dump();
    return {};
}

const json& member(const json& j, const char* key) {
    static const json null_value;
    if (!j.is_object()) return null_value;
    const auto it = j.find(key);
    return it == j.end() ? null_value : *it;
}

std::optional<bool> flag(const json& j, const char* key) {
    const json& m = member(j, key);
    if (!m.is_boolean()) return std::nullopt;
    return m.get<bool>();
}

std::optional<std::pair<double, double>> pair_of(const json& j, const char* key) {
    const json& m = member(j, key);
    if (!m.is_array() || m.size() != 2 || !m[0].is_number() || !m[1].is_number())
        return std::nullopt;
    return std::pair{m[0].get<double>(), m[1].get<double>()};
}

const std::string dash = "&#8212;";

std::string pct(std::optional<double> x, int digits = 2) {
    return x ? fmt::format("{:.{}f}%", 100 * *x, digits) : dash;
}
std::string signed_pct(std::optional<double> x, int digits = 2) {
    return x ? fmt::format("{:+.{}f}%", 100 * *x, digits) : dash;
}
std::string ms_text(double x) {
    if (x > 0 && x < 0.1) return fmt::format("{:.2f} &#181;s", 1000 * x);
    return fmt::format("{:.3f} ms", x);
}
std::string ms(std::optional<double> x) { return x ? ms_text(*x) : dash; }
std::string bytes_cell(std::optional<double> x) {
    return x ? fmt::format("{} <span class=\"muted\">({:.0f})</span>", format_bytes(*x), *x) : dash;
}
std::string ratio_text(std::optional<double> a, std::optional<double> b, const char* unit) {
    if (!a || !b || *a <= 0 || *b <= 0) return dash;
    return fmt::format("{:.2f}&#215; {}", *a / *b, unit);
}

// Which frontiers a candidate is on: "size, latency", "size", … or a dash.
std::string pareto_text(const json& c) {
    std::string out;
    if (flag(c, "pareto_size").value_or(false)) out = "size";
    if (flag(c, "pareto_latency").value_or(false)) out += out.empty() ? "latency" : ", latency";
    return out.empty() ? dash : "&#9733; " + out;
}

std::string verdict_class(const std::string& verdict) {
    if (verdict == "approved") return "ok";
    if (verdict == "needs_signoff") return "warn";
    if (verdict == "rejected") return "bad";
    return "muted";
}

std::string verdict_label(const std::string& verdict) {
    if (verdict == "approved") return "APPROVED";
    if (verdict == "needs_signoff") return "NEEDS SIGN-OFF";
    if (verdict == "rejected") return "REJECTED";
    return verdict.empty() ? "NO DECISION" : html_escape(verdict);
}

// A slice's change of accuracy, candidate − baseline.
std::optional<double> delta_of(const json& slice) {
    const auto b = num(slice, "baseline_accuracy"), c = num(slice, "candidate_accuracy");
    return b && c ? std::optional(*c - *b) : std::nullopt;
}

// SVG numbers: finite, short.
std::string n(double x) { return fmt::format("{:.1f}", std::isfinite(x) ? x : 0.0); }

// The accuracy delta of each slice as a forest plot: a dot at the delta, a line over the
// interval, the zero line, and the policy's slice bound when known.
// A language model's figures per slice (validation_report::language_model's JSON).
std::string language_model_table(const json& lm) {
    std::string h = "<h2>Language model: perplexity, KL and agreement per slice</h2>\n"
                    "<table id=\"language_model\"><tr><th>set</th><th>sequences</th>"
                    "<th>tokens</th><th>perplexity</th><th>change</th><th>interval</th>"
                    "<th>mean KL</th><th>top-1 agreement</th><th>flip rate</th></tr>\n";
    const auto add = [&](const json& s) {
        const auto v = [&](const char* key) { return num(member(s, key), "value"); };
        const json& change = member(s, "perplexity_change");
        const auto lo = num(change, "low"), hi = num(change, "high");
        const auto b = v("baseline_perplexity"), c = v("candidate_perplexity");
        h += fmt::format(
            "<tr><td>{}</td><td>{:.0f}</td><td>{:.0f}</td><td>{} &#8594; {}</td><td>{}</td>"
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            html_escape(str(s, "name")), num(s, "sequences").value_or(0),
            num(s, "tokens").value_or(0), b ? fmt::format("{:.4f}", *b) : dash,
            c ? fmt::format("{:.4f}", *c) : dash, signed_pct(v("perplexity_change"), 3),
            lo && hi ? fmt::format("[{}, {}]", signed_pct(lo, 3), signed_pct(hi, 3)) : dash,
            v("mean_kl") ? fmt::format("{:.3g}", *v("mean_kl")) : dash, pct(v("top1_agreement")),
            pct(v("flip_rate")));
    };
    add(member(lm, "overall"));
    if (const json& slices = member(lm, "slices"); slices.is_array())
        for (const auto& s : slices)
            add(s);
    return h + "</table>\n";
}

std::string forest_svg(const json& slices, std::optional<double> bound,
                       std::optional<double> min_samples) {
    if (!slices.is_array() || slices.empty()) return {};
    double lo = 0, hi = 0;
    for (const auto& s : slices) {
        if (auto ci = pair_of(s, "delta_interval")) {
            lo = std::min(lo, ci->first);
            hi = std::max(hi, ci->second);
        }
    }
    if (bound) lo = std::min(lo, -*bound);
    const double span = std::max(hi - lo, 1e-4);
    lo -= 0.05 * span;
    hi += 0.05 * span;
    const double left = 170, width = 460, row = 20, top = 24;
    const double height = top + row * static_cast<double>(slices.size()) + 10;
    const auto x = [&](double v) { return left + (v - lo) / (hi - lo) * width; };
    std::string svg = fmt::format(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
        "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"accuracy change per slice\">",
        n(left + width + 20), n(height), n(left + width + 20), n(height));
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" class=\"zero\"/>",
                       n(x(0)), n(top - 6), n(height - 6));
    svg += fmt::format("<text x=\"{}\" y=\"14\" class=\"axis\" text-anchor=\"middle\">0</text>",
                       n(x(0)));
    svg +=
        fmt::format("<text x=\"{}\" y=\"14\" class=\"axis\">{}</text>", n(left), signed_pct(lo, 1));
    svg += fmt::format("<text x=\"{}\" y=\"14\" class=\"axis\" text-anchor=\"end\">{}</text>",
                       n(left + width), signed_pct(hi, 1));
    if (bound)
        svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" class=\"bound\"/>"
                           "<text x=\"{0}\" y=\"{3}\" class=\"axis bad-text\" "
                           "text-anchor=\"middle\">&#8722;bound</text>",
                           n(x(-*bound)), n(top - 6), n(height - 6), n(height));
    double y = top + row / 2;
    for (const auto& s : slices) {
        const auto ci = pair_of(s, "delta_interval");
        const auto d = delta_of(s);
        svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"end\">{}</text>",
                           n(left - 8), n(y + 4), html_escape(str(s, "name")));
        if (ci)
            svg += fmt::format("<line x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\" class=\"ci\"/>",
                               n(x(ci->first)), n(x(ci->second)), n(y));
        if (d) {
            const bool gated = !min_samples || num(s, "samples").value_or(0) >= *min_samples;
            const bool beyond = bound && ci && -ci->first > *bound;
            svg += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"4\" class=\"{}\"/>", n(x(*d)), n(y),
                               !gated   ? "dot-muted"
                               : beyond ? "dot-bad"
                                        : "dot");
        }
        y += row;
    }
    return svg + "</svg>";
}

// Per-layer SQNR as horizontal bars.
std::string sqnr_svg(const json& layers) {
    if (!layers.is_array()) return {};
    double top_value = 0;
    std::size_t count = 0;
    for (const auto& l : layers)
        if (auto s = num(l, "sqnr_db")) {
            top_value = std::max(top_value, *s);
            ++count;
        }
    if (count == 0) return {};
    top_value = std::max(top_value, 1.0);
    const double left = 170, width = 420, row = 22, top = 10;
    const double height = top + row * static_cast<double>(count) + 24;
    std::string svg = fmt::format(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
        "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"SQNR per layer\">",
        n(left + width + 80), n(height), n(left + width + 80), n(height));
    double y = top;
    for (const auto& l : layers) {
        const auto s = num(l, "sqnr_db");
        if (!s) continue;
        const double w = std::max(0.0, *s) / top_value * width;
        svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"end\">{}</text>",
                           n(left - 8), n(y + row / 2 + 4), html_escape(str(l, "name")));
        svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"{}\"/>",
                           n(left), n(y + 3), n(w), n(row - 6), *s < 20 ? "bar-bad" : "bar");
        svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\">{:.1f} dB</text>",
                           n(left + w + 6), n(y + row / 2 + 4), *s);
        y += row;
    }
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\">SQNR (dB), higher is "
                       "better</text>",
                       n(left), n(height - 6));
    return svg + "</svg>";
}

// Accuracy (y) against a cost (x): bytes or latency. Frontier points are filled and joined.
std::string scatter_svg(const json& candidates, const char* cost_key, const char* frontier_key,
                        const char* x_title, bool as_bytes) {
    struct point {
        double x, y;
        std::string name;
        bool frontier, baseline;
        std::string verdict;
    };
    std::vector<point> points;
    if (!candidates.is_array()) return {};
    for (const auto& c : candidates) {
        const auto x = num(c, cost_key);
        const auto y = num(c, "accuracy");
        if (!x || !y) continue;
        points.push_back({*x, *y, str(c, "name"), flag(c, frontier_key).value_or(false),
                          flag(c, "baseline").value_or(false), str(c, "verdict")});
    }
    if (points.empty()) return {};
    double x0 = points[0].x, x1 = points[0].x, y0 = points[0].y, y1 = points[0].y;
    for (const auto& p : points) {
        x0 = std::min(x0, p.x);
        x1 = std::max(x1, p.x);
        y0 = std::min(y0, p.y);
        y1 = std::max(y1, p.y);
    }
    const double xs = std::max(x1 - x0, std::abs(x1) * 0.1 + 1e-9);
    const double ys = std::max(y1 - y0, 0.002);
    x0 -= 0.1 * xs;
    x1 += 0.1 * xs;
    y0 -= 0.15 * ys;
    y1 += 0.15 * ys;
    x0 = std::max(x0, 0.0);
    const double left = 70, top = 20, width = 360, height = 220;
    const auto px = [&](double v) { return left + (v - x0) / (x1 - x0) * width; };
    const auto py = [&](double v) { return top + (1 - (v - y0) / (y1 - y0)) * height; };
    const auto x_label = [&](double v) {
        return as_bytes ? html_escape(format_bytes(v)) : ms_text(v);
    };
    std::string svg = fmt::format(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
        "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"accuracy versus {}\">",
        n(left + width + 120), n(top + height + 70), n(left + width + 120), n(top + height + 70),
        html_escape(x_title));
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"frame\"/>",
                       n(left), n(top), n(width), n(height));
    for (int i = 0; i <= 4; ++i) {
        const double yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
        svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\" text-anchor=\"end\">{}</text>",
                           n(left - 6), n(py(yv) + 4), pct(yv, 1));
        svg +=
            fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\" text-anchor=\"middle\">{}</text>",
                        n(px(xv)), n(top + height + 16), x_label(xv));
    }
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\" text-anchor=\"middle\">{} "
                       "(lower is better)</text>",
                       n(left + width / 2), n(top + height + 38), html_escape(x_title));
    std::vector<point> frontier;
    for (const auto& p : points)
        if (p.frontier) frontier.push_back(p);
    std::sort(frontier.begin(), frontier.end(),
              [](const point& a, const point& b) { return a.x < b.x; });
    if (frontier.size() > 1) {
        std::string d;
        for (const auto& p : frontier)
            d += fmt::format("{}{},{}", d.empty() ? "M" : " L", n(px(p.x)), n(py(p.y)));
        svg += fmt::format("<path d=\"{}\" class=\"frontier\"/>", d);
    }
    for (const auto& p : points) {
        const std::string cls = p.baseline ? "pt-base" : p.frontier ? "pt-front" : "pt";
        svg += fmt::format(
            "<circle cx=\"{}\" cy=\"{}\" r=\"5\" class=\"{}\"><title>{}</title></circle>",
            n(px(p.x)), n(py(p.y)), cls, html_escape(p.name));
        svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"label\">{}</text>", n(px(p.x) + 8),
                           n(py(p.y) - 6), html_escape(p.name));
    }
    const double ly = top + height + 58, lx = left;
    svg += fmt::format(
        "<g class=\"legend\"><circle cx=\"{0}\" cy=\"{1}\" r=\"5\" class=\"pt-base\"/>"
        "<text x=\"{2}\" y=\"{3}\" class=\"axis\">baseline</text>"
        "<circle cx=\"{4}\" cy=\"{1}\" r=\"5\" class=\"pt-front\"/>"
        "<text x=\"{5}\" y=\"{3}\" class=\"axis\">Pareto frontier</text>"
        "<circle cx=\"{6}\" cy=\"{1}\" r=\"5\" class=\"pt\"/>"
        "<text x=\"{7}\" y=\"{3}\" class=\"axis\">dominated</text></g>",
        n(lx), n(ly), n(lx + 10), n(ly + 4), n(lx + 90), n(lx + 100), n(lx + 210), n(lx + 220));
    return svg + "</svg>";
}

const char* const css = R"(
body{font:14px/1.45 "DejaVu Sans",system-ui,sans-serif;margin:24px auto;max-width:1040px;color:#1d2430;background:#fff;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dee8;padding-bottom:4px}
.meta{color:#5a6475;margin:0 0 12px}.muted{color:#7a8494}
.badge{display:inline-block;padding:6px 14px;border-radius:6px;font-weight:bold;font-size:16px;color:#fff}
.badge.ok{background:#1f8a4c}.badge.warn{background:#c27c0e}.badge.bad{background:#c0392b}.badge.muted{background:#7a8494}
table{border-collapse:collapse;margin:6px 0 10px;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e3e7ee;padding:4px 10px;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}th{background:#f3f5f9;font-weight:600}
td.text{text-align:left;max-width:560px}
.pass{color:#1f8a4c;font-weight:bold}.fail{color:#c0392b;font-weight:bold}
tr.failed td{background:#fdf0ee}
code{font:12px "DejaVu Sans Mono",monospace;word-break:break-all}
.chart{display:block;margin:8px 0}.chart text{font:11px "DejaVu Sans",sans-serif;fill:#1d2430}
.chart .axis{fill:#5a6475}.chart .bad-text{fill:#c0392b}
.zero{stroke:#5a6475;stroke-width:1}.bound{stroke:#c0392b;stroke-dasharray:4 3}
.ci{stroke:#3d6fb6;stroke-width:2}.dot{fill:#3d6fb6}.dot-bad{fill:#c0392b}.dot-muted{fill:#9aa4b4}
.bar{fill:#3d6fb6}.bar-bad{fill:#c27c0e}.frame{fill:#fafbfd;stroke:#d8dee8}
.frontier{fill:none;stroke:#1f8a4c;stroke-width:2;stroke-dasharray:6 3}
.pt{fill:#9aa4b4}.pt-front{fill:#1f8a4c}.pt-base{fill:#1d2430}
.plots{display:flex;flex-wrap:wrap;gap:12px}
)";

} // namespace

std::string render_html(const json& r) {
    if (!r.is_object())
        fail(status::format_error, "report: expected a JSON object (a report written by hone)");
    const json& metrics = member(r, "metrics"); // validation_report::to_json()
    const json& base = member(metrics, "baseline");
    const json& cand = member(metrics, "candidate");
    const json& acc = member(metrics, "accuracy");
    const json& decision = member(r, "decision");
    const json& policy = member(r, "policy");
    const std::string verdict = str(decision, "verdict");
    std::string h;
    h.reserve(64 * 1024);
    h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
    h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
    h += fmt::format("<title>{}</title><style>{}</style></head><body>\n",
                     html_escape(str(r, "title").empty() ? "hone report" : str(r, "title")), css);

    // Header and verdict.
    h += fmt::format("<h1>{}</h1>\n",
                     html_escape(str(r, "title").empty() ? "hone report" : str(r, "title")));
    h += "<p class=\"meta\">";
    const std::pair<const char*, const char*> meta[] = {{"model", "model"},
                                                        {"recipe", "recipe"},
                                                        {"data", "evaluation data"},
                                                        {"generated", "generated"},
                                                        {"hone", "hone"}};
    bool first = true;
    for (const auto& [key, label] : meta) {
        const std::string value = str(std::string_view(key) == "data" ? metrics : r, key);
        if (value.empty()) continue;
        h += fmt::format("{}{}: <b>{}</b>", first ? "" : " &#183; ", label, html_escape(value));
        first = false;
    }
    if (auto s = num(cand, "samples")) h += fmt::format(" &#183; {:.0f} samples", *s);
    h += "</p>\n";
    h += fmt::format("<p><span class=\"badge {}\" id=\"verdict\">{}</span>", verdict_class(verdict),
                     verdict_label(verdict));
    if (auto missing = num(decision, "approvals_required"); missing && verdict == "needs_signoff")
        h += fmt::format(" &#160;{:.0f} approval(s) required", *missing);
    if (!str(policy, "tier").empty())
        h += fmt::format(" &#160;<span class=\"muted\">risk tier <b>{}</b></span>",
                         html_escape(str(policy, "tier")));
    h += "</p>\n";

    // Baseline vs candidate.
    h += "<h2>Baseline vs candidate</h2>\n<table id=\"summary\"><tr><th>metric</th><th>";
    const std::string base_name = str(metrics, "baseline_name"),
                      cand_name = str(metrics, "candidate_name");
    h += html_escape(base_name.empty() ? "baseline" : base_name);
    h += "</th><th>";
    h += html_escape(cand_name.empty() ? "candidate" : cand_name);
    h += "</th><th>change</th></tr>\n";
    const json& lm = member(metrics, "language_model");
    const auto row = [&](const std::string& label, const std::string& b, const std::string& c,
                         const std::string& change) {
        h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", label, b, c,
                         change);
    };
    {
        // The paired figures (weighted by the production mix when `weighted`).
        const auto ba = num(acc, "baseline"), ca = num(acc, "candidate");
        std::string change = ba && ca ? signed_pct(*ca - *ba) : dash;
        if (auto ci = pair_of(acc, "delta_interval"))
            change += fmt::format(" <span class=\"muted\">[{}, {}]</span>", signed_pct(ci->first),
                                  signed_pct(ci->second));
        row(lm.is_object() ? "next-token accuracy" : "top-1 accuracy", pct(ba), pct(ca), change);
        if (lm.is_object()) {
            const json& o = member(lm, "overall");
            const auto value = [&](const char* key) { return num(member(o, key), "value"); };
            const auto ci = [&](const char* key, auto text) {
                const json& e = member(o, key);
                const auto lo = num(e, "low"), hi = num(e, "high");
                return lo && hi ? fmt::format(" <span class=\"muted\">[{}, {}]</span>", text(*lo),
                                              text(*hi))
                                : std::string();
            };
            const auto fixed = [](double x) { return fmt::format("{:.4f}", x); };
            const auto ppl_b = value("baseline_perplexity"), ppl_c = value("candidate_perplexity");
            const auto change_ppl = value("perplexity_change");
            row("perplexity", ppl_b ? fixed(*ppl_b) : dash, ppl_c ? fixed(*ppl_c) : dash,
                (change_ppl ? signed_pct(*change_ppl) : dash) +
                    ci("perplexity_change", [](double x) { return signed_pct(x); }));
            const auto kl = value("mean_kl");
            row("mean KL to baseline (nats/token)", dash, kl ? fmt::format("{:.3g}", *kl) : dash,
                ci("mean_kl", [](double x) { return fmt::format("{:.3g}", x); }));
            row("flip rate (right ↔ wrong)", dash, pct(value("flip_rate")), "");
        }
        if (num(base, "top_k_accuracy") || num(cand, "top_k_accuracy"))
            row("top-k accuracy", pct(num(base, "top_k_accuracy")),
                pct(num(cand, "top_k_accuracy")), "");
        if (auto a = num(cand, "agreement"))
            row(lm.is_object() ? "next-token top-1 agreement with baseline"
                               : "top-1 agreement with baseline",
                dash, pct(a), "");
        const auto bb = num(base, "model_bytes"), cb = num(cand, "model_bytes");
        row("model size", bytes_cell(bb), bytes_cell(cb), ratio_text(bb, cb, "smaller"));
    }
    const json& latency = member(metrics, "latency");
    if (latency.is_array())
        for (const auto& l : latency) {
            const auto batch = num(l, "batch").value_or(0);
            const json& bl = member(l, "baseline_ms");
            const json& cl = member(l, "candidate_ms");
            for (const char* p : {"p50", "p90", "p99"})
                row(fmt::format("latency {}, batch {:.0f}", p, batch), ms(num(bl, p)),
                    ms(num(cl, p)), ratio_text(num(bl, p), num(cl, p), "faster"));
            const auto per_second = [batch](std::optional<double> p50) {
                return p50 && *p50 > 0 ? std::optional(batch * 1000.0 / *p50) : std::nullopt;
            };
            const auto bt = per_second(num(bl, "p50")), ct = per_second(num(cl, "p50"));
            row(fmt::format("throughput, batch {:.0f}", batch),
                bt ? fmt::format("{:.0f}/s", *bt) : dash, ct ? fmt::format("{:.0f}/s", *ct) : dash,
                ratio_text(ct, bt, ""));
            const auto bu = num(l, "baseline_utilisation"), cu = num(l, "candidate_utilisation");
            if ((bu && *bu > 0) || (cu && *cu > 0))
                row(fmt::format("utilisation of peak, batch {:.0f}", batch), pct(bu, 1), pct(cu, 1),
                    fmt::format("{:.1f} vs {:.1f} GOP/s", num(l, "baseline_gops").value_or(0),
                                num(l, "candidate_gops").value_or(0)));
        }
    h += "</table>\n";
    if (lm.is_object()) {
        h += fmt::format("<p class=\"muted\">Paired on the same token sequences: next-token "
                         "predictions of both models at every position. Intervals: {:.0f}% "
                         "(paired block bootstrap over sequences, {:.0f} resamples).</p>\n",
                         100 * num(lm, "confidence").value_or(0.95),
                         num(lm, "resamples").value_or(0));
        h += language_model_table(lm);
    } else if (acc.is_object())
        h += fmt::format(
            "<p class=\"muted\">Paired on the same samples: {:.0f} regressions, {:.0f} "
            "improvements, exact McNemar p = {:.3g}. Intervals: {:.0f}% "
            "(Newcombe, paired).</p>\n",
            num(acc, "regressions").value_or(0), num(acc, "improvements").value_or(0),
            num(acc, "mcnemar_p").value_or(1), 100 * num(r, "confidence").value_or(0.95));

    // Decision.
    h += "<h2>Decision</h2>\n";
    const json& reasons = member(decision, "reasons");
    if (reasons.is_array() && !reasons.empty()) {
        h += "<table id=\"reasons\"><tr><th>check</th><th>slice</th><th>value</th><th>bound</th>"
             "<th>result</th><th>reason</th></tr>\n";
        for (const auto& reason : reasons) {
            const bool passed = flag(reason, "passed").value_or(false);
            const auto value = num(reason, "value"), bound = num(reason, "bound");
            h += fmt::format("<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}"
                             "</td><td class=\"text\">{}</td></tr>\n",
                             passed ? "" : " class=\"failed\"", html_escape(str(reason, "metric")),
                             html_escape(str(reason, "slice")),
                             value ? fmt::format("{:.4g}", *value) : dash,
                             bound ? fmt::format("{:.4g}", *bound) : dash, passed ? "pass" : "fail",
                             passed ? "pass" : "FAIL", html_escape(str(reason, "text")));
        }
        h += "</table>\n";
    } else {
        h += "<p class=\"muted\">No decision recorded.</p>\n";
    }

    // Slices.
    const json& slices = member(metrics, "slices");
    if (slices.is_array() && !slices.empty()) {
        h += "<h2>Per-slice accuracy change</h2>\n";
        h += forest_svg(slices, num(policy, "max_slice_accuracy_drop"),
                        num(policy, "min_slice_samples"));
        h += "<p class=\"muted\">Dots: change of accuracy; lines: its interval; dashed: the "
             "policy's slice bound; grey: too few samples to be gated.</p>\n";
        h += "<table id=\"slices\"><tr><th>slice</th><th>samples</th><th>baseline</th>"
             "<th>candidate</th><th>change</th><th>interval</th><th>regr.</th><th>impr.</th>"
             "<th>McNemar p</th></tr>\n";
        for (const auto& s : slices) {
            const auto ci = pair_of(s, "delta_interval");
            const auto count_cell = [](std::optional<double> x) {
                return x ? fmt::format("{:.0f}", *x) : dash;
            };
            h += fmt::format(
                "<tr><td>{}</td><td>{:.0f}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
                html_escape(str(s, "name")), num(s, "samples").value_or(0),
                pct(num(s, "baseline_accuracy")), pct(num(s, "candidate_accuracy")),
                signed_pct(delta_of(s)),
                ci ? fmt::format("[{}, {}]", signed_pct(ci->first), signed_pct(ci->second)) : dash,
                count_cell(num(s, "regressions")), count_cell(num(s, "improvements")),
                num(s, "mcnemar_p") ? fmt::format("{:.3g}", *num(s, "mcnemar_p")) : dash);
        }
        h += "</table>\n";
    }

    // Layers.
    const json& layers = member(r, "layers");
    if (layers.is_array() && !layers.empty()) {
        h += "<h2>Per-layer error</h2>\n";
        h += sqnr_svg(layers);
        const bool with_kl = std::any_of(layers.begin(), layers.end(),
                                         [](const json& l) { return num(l, "kl").has_value(); });
        h += "<table id=\"layers\"><tr><th>layer</th><th>op</th><th>scheme</th><th>SQNR</th>"
             "<th>relative error</th>";
        if (with_kl) h += "<th>KL alone (nats/token)</th>";
        h += "<th>bytes before</th><th>bytes after</th></tr>\n";
        for (const auto& l : layers) {
            const auto s = num(l, "sqnr_db"), e = num(l, "relative_error"), kl = num(l, "kl");
            h += fmt::format(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}<td>{}"
                "</td><td>{}</td></tr>\n",
                html_escape(str(l, "name")), html_escape(str(l, "op")),
                html_escape(str(l, "scheme")), s ? fmt::format("{:.1f} dB", *s) : dash,
                e ? fmt::format("{:.3g}", *e) : dash,
                with_kl ? fmt::format("<td>{}</td>", kl ? fmt::format("{:.3g}", *kl) : dash)
                        : std::string(),
                format_bytes(num(l, "bytes_before").value_or(0)),
                format_bytes(num(l, "bytes_after").value_or(0)));
        }
        h += "</table>\n";
    }

    // Accuracy-aware search.
    const json& search = member(r, "search");
    if (search.is_object() && search.contains("trials") && search["trials"].is_array()) {
        h += "<h2>Accuracy-aware search</h2>\n";
        h += fmt::format("<p>Bound: a drop of at most {:.2f} points from the baseline's {:.2f}% on "
                         "the ranking data (calibration samples); {}.</p>\n",
                         100 * num(search, "bound").value_or(0),
                         100 * num(search, "baseline").value_or(0),
                         search.value("met", false) ? "met" : "not met");
        h += "<table id=\"search\"><tr><th>trial</th><th>layers kept in f32</th><th>accuracy</th>"
             "<th>drop</th><th>within</th></tr>\n";
        for (const auto& t : search["trials"]) {
            std::string kept;
            if (t.contains("kept") && t["kept"].is_array())
                for (const auto& k : t["kept"])
                    kept += (kept.empty() ? "" : ", ") +
                            html_escape(k.is_string() ? k.get<std::string>() : k.dump());
            const auto a = num(t, "accuracy"), d = num(t, "drop");
            h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                             html_escape(str(t, "role")), kept.empty() ? dash : kept,
                             a ? fmt::format("{:.2f}%", 100 * *a) : dash,
                             d ? fmt::format("{:+.2f} points", 100 * *d) : dash,
                             t.value("within", false) ? "yes" : "no");
        }
        h += "</table>\n";
    }

    // Precision budget.
    const json& budget = member(r, "budget");
    if (budget.is_object() && budget.contains("layers") && budget["layers"].is_array()) {
        h += "<h2>Precision under a budget</h2>\n";
        h += fmt::format("<p>{:.2f} bits per weight chosen: {} of a budget of {}; summed output "
                         "noise {:.3g}{}.</p>\n",
                         num(budget, "bits_per_weight").value_or(0),
                         format_bytes(num(budget, "bytes").value_or(0)),
                         format_bytes(num(budget, "budget_bytes").value_or(0)),
                         num(budget, "noise").value_or(0),
                         budget.value("feasible", true) ? "" : " (the budget cannot be met)");
        h += "<table id=\"budget\"><tr><th>layer</th><th>chosen</th><th>options: bits, "
             "noise, bytes</th></tr>\n";
        const auto bits_name = [](int b) {
            return b == 32 ? std::string("f32") : fmt::format("{}-bit", b);
        };
        for (const auto& l : budget["layers"]) {
            std::string opts;
            if (l.contains("options") && l["options"].is_array())
                for (const auto& o : l["options"])
                    opts += fmt::format("{}{}: {:.3g}, {}", opts.empty() ? "" : "; ",
                                        bits_name(int(num(o, "bits").value_or(0))),
                                        num(o, "noise").value_or(0),
                                        format_bytes(num(o, "bytes").value_or(0)));
            h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                             html_escape(str(l, "layer")),
                             bits_name(int(num(l, "bits").value_or(0))), html_escape(opts));
        }
        h += "</table>\n";
    }

    // Candidates.
    const json& candidates = member(r, "candidates");
    if (candidates.is_array() && !candidates.empty()) {
        h += "<h2>Accuracy vs size and latency</h2>\n<div class=\"plots\">";
        h += scatter_svg(candidates, "model_bytes", "pareto_size", "model size", true);
        h += scatter_svg(candidates, "latency_ms", "pareto_latency", "latency p50", false);
        h += "</div>\n<table id=\"candidates\"><tr><th>model</th><th>accuracy</th><th>size</th>"
             "<th>latency p50</th><th>verdict</th><th>Pareto frontier</th></tr>\n";
        for (const auto& c : candidates) {
            const std::string v = str(c, "verdict");
            h += fmt::format(
                "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}"
                "</td></tr>\n",
                html_escape(str(c, "name")),
                flag(c, "baseline").value_or(false) ? " <span class=\"muted\">(baseline)</span>"
                                                    : "",
                pct(num(c, "accuracy")), format_bytes(num(c, "model_bytes").value_or(0)),
                ms(num(c, "latency_ms")), html_escape(v), pareto_text(c));
        }
        h += "</table>\n";
    }

    // Ledger.
    h += "<h2>Change record</h2>\n";
    if (const json& l = member(r, "ledger"); l.is_object()) {
        const bool is_signed = flag(l, "signed").value_or(false);
        const auto verified = flag(l, "verified");
        h += "<table id=\"ledger\">";
        const auto kv = [&](const char* label, const std::string& value) {
            h += fmt::format("<tr><td>{}</td><td class=\"text\">{}</td></tr>", label, value);
        };
        kv("ledger", "<code>" + html_escape(str(l, "path")) + "</code>");
        kv("record", fmt::format("#{} ({}, by {}, {})", html_escape(str(l, "seq")),
                                 html_escape(str(l, "action")), html_escape(str(l, "actor")),
                                 html_escape(str(l, "time"))));
        kv("SHA-256 of the record", "<code>" + html_escape(str(l, "sha256")) + "</code>");
        kv("previous record", "<code>" + html_escape(str(l, "prev")) + "</code>");
        kv("signature", is_signed ? "<span class=\"pass\">Ed25519, signed by</span> <code>" +
                                        html_escape(str(l, "signer")) + "</code>"
                                  : "<span class=\"fail\">unsigned</span>");
        kv("ledger verifies",
           !verified   ? dash
           : *verified ? "<span class=\"pass\">yes</span>"
                       : "<span class=\"fail\">no</span> " + html_escape(str(l, "problem")));
        h += "</table>\n";
    } else {
        h += "<p class=\"muted\">No ledger record.</p>\n";
    }

    // Policy.
    if (policy.is_object()) {
        h += "<h2>Policy</h2>\n<table id=\"policy\">";
        for (const auto& [key, value] : policy.items())
            h += fmt::format(
                "<tr><td>{}</td><td>{}</td></tr>", html_escape(key),
                html_escape(value.is_string() ? value.get<std::string>() : value.dump()));
        h += "</table>\n";
    }
    h += "<p class=\"muted\">Made by hone. Everything above is in the JSON report next to this "
         "page.</p>\n</body></html>\n";
    return h;
}

void write_report(const fs::path& dir, const json& report) {
    const std::string html = render_html(report);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        fail(status::io_error,
             fmt::format("report folder '{}': cannot create it ({})", dir.string(), ec.message()));
    write_file_atomic(dir / "report.json",
                      report.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
    write_file_atomic(dir / "report.html", html);
}

} // namespace hone::pipeline
