#include "cli_app.hpp"

#include "checkpoint.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"
#include "ledger_export.hpp"
#include "main_job.hpp"
#include "optimize.hpp"
#include "train.hpp"

#include <hone/core/error.hpp>
#include <hone/core/version.hpp>

#include <fmt/format.h>

#include <functional>
#include <string>

namespace hone::cli {

namespace {

const char* const description =
    "hone makes trained neural networks smaller and faster and proves each change safe:\n"
    "it validates a candidate against its baseline, decides by risk tier, and keeps a signed,\n"
    "hash-chained change ledger that an inference engine checks before it loads a model.";

const char* const trust_help =
    "Trust store: lines '<holder> <roles> <public key>' (roles: optimizer, approver, "
    "approver:<tier>); approvals count only approver keys, the change must be signed by an "
    "optimizer key (docs/ledger.md)";
const char* const strict_help =
    "Strict mode for every tier (always on for high and critical): every record signed by a key "
    "of the trust store";

} // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
    CLI::App app{description, "hone"};
    app.require_subcommand(1);
    app.fallthrough();
    app.footer(std::string("\n") + exit_code_help +
               "\nOutput: results on stdout (with --json: exactly one JSON object); warnings, "
               "progress and errors on stderr.\nSee docs/cli.md.");
    app.set_version_flag("--version", std::string("hone ") + std::string(version().text));
    bool json = false, quiet = false;
    app.add_flag("--json", json,
                 "Print one machine-readable JSON object on stdout instead of text");
    app.add_flag("-q,--quiet", quiet, "No progress bars or notes");

    std::function<int(console&)> action;

    // keygen
    keygen_options keygen;
    auto* k =
        app.add_subcommand("keygen", "Create an Ed25519 identity key for signing ledger records");
    k->add_option("--out", keygen.out, "Private key file to write (PEM, PKCS#8, mode 0600)")
        ->required();
    k->add_flag("--public", keygen.public_only,
                "Print the public key (hex) of the existing key --out; write nothing");
    k->add_flag("--force", keygen.force, "Replace an existing key file");
    k->footer("Prints the public key: list it in a trust store (--trust FILE).");
    k->callback([&] { action = [&](console& c) { return run_keygen(keygen, c); }; });

    // ledger …
    auto* l = app.add_subcommand(
        "ledger", "Verify, show, approve, reject, promote or export records of a change ledger");
    l->require_subcommand(1);

    ledger_verify_options verify;
    auto* lv = l->add_subcommand("verify", "Check the whole ledger: canonical form, hash chain, "
                                           "head file, signatures (exit 0 ok, 30 not verified)");
    lv->add_option("LEDGER", verify.ledger, "Ledger file (JSONL)")->required();
    lv->add_flag("--require-signatures", verify.require_signatures, "Every record must be signed");
    lv->add_option("--trust", verify.trust, trust_help)->type_name("FILE");
    lv->add_flag("--strict", verify.strict, strict_help);
    lv->callback([&] { action = [&](console& c) { return run_ledger_verify(verify, c); }; });

    ledger_show_options show;
    auto* ls = l->add_subcommand("show", "List the records (seq, time, actor, action, artifact, "
                                         "verdict, signed), or one record in full");
    ls->add_option("LEDGER", show.ledger, "Ledger file (JSONL)")->required();
    ls->add_option("--seq", show.seq, "Show record N in full")->check(CLI::PositiveNumber);
    ls->callback([&] { action = [&](console& c) { return run_ledger_show(show, c); }; });

    ledger_decide_options approve, reject, promote;
    reject.action = ledger_action::reject;
    promote.action = ledger_action::promote;
    for (auto* o : {&approve, &reject, &promote}) {
        const char* what =
            o->action == ledger_action::reject
                ? "Append a signed rejection of an optimize record (the artifact is then refused)"
            : o->action == ledger_action::promote
                ? "Record that an approved optimize record was released (refused unless approved)"
                : "Append a signed approval of an optimize record that needs sign-off";
        auto* s = l->add_subcommand(std::string(name_of(o->action)), what);
        s->add_option("LEDGER", o->ledger, "Ledger file (JSONL)")->required();
        s->add_option("--seq", o->seq, "The optimize record acted on")
            ->required()
            ->check(CLI::PositiveNumber);
        s->add_option("--actor", o->actor, "Who decides (a person or a service)")->required();
        s->add_option("--key", o->key,
                      "Ed25519 private key (PEM) to sign with; unsigned approvals do not count");
        s->add_option("--reason", o->reason, "Why (stored as the record's note)");
        s->add_flag("--require-signatures", o->require_signatures,
                    "Refuse unless every existing record is signed");
        s->add_option("--trust", o->trust, trust_help)->type_name("FILE");
        s->add_flag("--strict", o->strict, strict_help);
        s->callback([&, o] { action = [&, o](console& c) { return run_ledger_decide(*o, c); }; });
    }

    ledger_export_options exp;
    auto* le = l->add_subcommand(
        "export", "Optimize records as standard evidence: in-toto Statements (SLSA Provenance v1 "
                  "and hone's validation predicate) in DSSE envelopes signed with the record's "
                  "key, one JSON line each; or a CycloneDX 1.6 ML-BOM (model card) of one record");
    le->add_option("LEDGER", exp.ledger, "Ledger file (JSONL)")->required();
    le->add_option("--format", exp.format, "in-toto (default) or cyclonedx")
        ->check(CLI::IsMember({"in-toto", "cyclonedx"}));
    le->add_option("--seq", exp.seq,
                   "Only optimize record N (cyclonedx: default the newest optimize record)")
        ->check(CLI::PositiveNumber);
    le->add_option("--key", exp.key,
                   "in-toto: the Ed25519 key (PEM) that signed the record(s) (required)");
    le->add_option("--out", exp.out, "File to write (default: stdout)");
    le->callback([&] { action = [&](console& c) { return run_ledger_export(exp, c); }; });

    // check
    check_options check;
    auto* ch = app.add_subcommand(
        "check", "Whether a model file's exact bytes are approved by the ledger (exit 0 approved, "
                 "10 needs sign-off, 20 rejected, 30 not verified or not recorded)");
    ch->add_option("MODEL", check.model, "The file an engine is about to load")->required();
    ch->add_option("--ledger", check.ledger, "Ledger file (JSONL)")->required();
    ch->add_flag("--require-signatures", check.require_signatures, "Every record must be signed");
    ch->add_option("--trust", check.trust, trust_help)->type_name("FILE");
    ch->add_flag("--strict", check.strict, strict_help);
    ch->callback([&] { action = [&](console& c) { return run_check(check, c); }; });

    // report
    report_render_options report;
    auto* rp =
        app.add_subcommand("report", "Render a saved report.json as a self-contained HTML page");
    rp->add_option("REPORT", report.input, "A report.json written by hone")->required();
    rp->add_option("--html", report.html, "The HTML file to write")->required();
    rp->callback([&] { action = [&](console& c) { return run_report_render(report, c); }; });

    // inspect, optimize, validate, sweep: registered once their handlers are set here.
    main_job_handlers handlers = main_job_handlers_all();
    main_job_storage storage;
    add_main_job_commands(app, handlers, storage, action);

    // train
    train_options train;
    add_train_command(app, train, action);

    // checkpoint quantize
    checkpoint_cli_options checkpoint;
    add_checkpoint_command(app, checkpoint, action);

    // Usage errors: one line on stderr and, with --json anywhere, the error object on stdout.
    const auto usage_error = [&](const std::string& message) {
        err << "hone: " << message << " (see hone --help)\n";
        for (int i = 1; i < argc; ++i)
            if (std::string_view(argv[i]) == "--json") {
                print_json(out,
                           {{"error", {{"status", "invalid_argument"}, {"message", message}}}});
                break;
            }
        return exit_error;
    };
    // The first word that is not an option names the subcommand: say so when it is unknown
    // (CLI11 would only say that a subcommand is required).
    for (int i = 1; i < argc; ++i) {
        const std::string word = argv[i];
        if (word.starts_with("-")) continue;
        bool known = false;
        for (const auto* sub : app.get_subcommands({}))
            known |= sub->get_name() == word;
        if (!known) return usage_error("unknown subcommand '" + word + "'");
        break;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e, out, err); // --help, --version
        return usage_error(e.what());
    }
    console c{out, err, json, quiet};
    try {
        return action ? action(c) : exit_error;
    } catch (const error& e) {
        err << "hone: " << e.what() << '\n';
        if (json)
            print_json(out,
                       {{"error",
                         {{"status", std::string(status_name(e.code()))}, {"message", e.what()}}}});
        return exit_code_for(e.code());
    } catch (const std::exception& e) {
        err << "hone: " << e.what() << '\n';
        if (json) print_json(out, {{"error", {{"status", "internal"}, {"message", e.what()}}}});
        return exit_error;
    }
}

} // namespace hone::cli
