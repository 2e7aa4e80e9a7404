# test_cli_flow: the `hone` binary end to end on a ledger made through the C++ API.
#   cmake -DHONE=… -DFIXTURE=… -DWORK_DIR=… -P cli_flow_test.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(W ${WORK_DIR})

# hone_run(<expected exit code> <name> ARGS…): runs hone, checks the code; sets <name>_out and
# <name>_err. Every failure must be exactly one line on stderr.
function(hone_run expected name)
  execute_process(COMMAND ${HONE} ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out
                  ERROR_VARIABLE err WORKING_DIRECTORY ${W})
  if(NOT code STREQUAL "${expected}")
    message(FATAL_ERROR "hone ${ARGN}: exit ${code}, expected ${expected}\nstdout: ${out}\nstderr: ${err}")
  endif()
  if(NOT expected STREQUAL "0")
    string(REGEX MATCHALL "\n" newlines "${err}")
    list(LENGTH newlines lines)
    if(expected STREQUAL "1" AND NOT lines EQUAL 1)
      message(FATAL_ERROR "hone ${ARGN}: expected one line on stderr, got ${lines}:\n${err}")
    endif()
    if(err MATCHES "terminate called|Aborted|what\\(\\)")
      message(FATAL_ERROR "hone ${ARGN}: crashed:\n${err}")
    endif()
  endif()
  set(${name}_out "${out}" PARENT_SCOPE)
  set(${name}_err "${err}" PARENT_SCOPE)
endfunction()

function(expect_match text regex what)
  if(NOT "${text}" MATCHES "${regex}")
    message(FATAL_ERROR "${what}: '${regex}' not found in:\n${text}")
  endif()
endfunction()

function(fixture)
  execute_process(COMMAND ${FIXTURE} ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out
                  ERROR_VARIABLE err WORKING_DIRECTORY ${W})
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "cli_fixture ${ARGN}: ${code}\n${out}${err}")
  endif()
endfunction()

# --- identities ---------------------------------------------------------------------------
hone_run(0 help --help)
expect_match("${help_out}" "Exit codes:.*10  needs sign-off.*30  not verified" "--help")
hone_run(0 k1 keygen --out alice.pem)
hone_run(0 k2 --json keygen --out bob.pem)
string(JSON bob_key GET "${k2_out}" public_key)
hone_run(0 k3 keygen --out alice.pem --public)
string(STRIP "${k3_out}" alice_key)
string(LENGTH "${alice_key}" n)
if(NOT n EQUAL 64)
  message(FATAL_ERROR "keygen --public printed '${alice_key}'")
endif()
hone_run(1 k4 keygen --out alice.pem) # exists: refused, untouched
hone_run(0 k5 keygen --out alice.pem --public)
if(NOT k5_out STREQUAL k3_out)
  message(FATAL_ERROR "keygen without --force changed the key")
endif()
hone_run(1 k6 keygen --out no/such/folder/key.pem)
if(EXISTS ${W}/no)
  message(FATAL_ERROR "keygen left something behind")
endif()

# --- a ledger whose optimize record needs one sign-off ----------------------------------------
fixture(ledger ${W}/ledger.jsonl ${W}/model.bin alice ${W}/alice.pem needs_signoff 1)
hone_run(0 v1 ledger verify ledger.jsonl)
expect_match("${v1_out}" "verifies: 2 records" "verify")
file(WRITE ${W}/trust "# holder roles key\nalice optimizer ${alice_key}\nbob approver:low,approver:high ${bob_key} # bob\n")
file(WRITE ${W}/trust-bob "bob optimizer,approver ${bob_key}\n")
file(WRITE ${W}/trust-bad "alice optimizer ${alice_key}\nbob approver nothex\n")
hone_run(0 v2 ledger verify ledger.jsonl --require-signatures --trust trust --strict)
expect_match("${v2_out}" "every record signed by a key of trust store" "verify --strict")
hone_run(30 v3 ledger verify ledger.jsonl --trust trust-bob --strict) # alice's key unknown
expect_match("${v3_out}" "line 1: record by 'alice' is signed by key [0-9a-f]+…, which trust store 'trust-bob' does not list" "verify --strict, unknown key")
hone_run(1 v4 ledger verify ledger.jsonl --trust trust-bad)
expect_match("${v4_err}" "trust store 'trust-bad' line 2, field 3 \\(public key\\): 'nothex'" "bad trust store")
hone_run(0 s1 ledger show ledger.jsonl)
expect_match("${s1_out}" "seq +time +actor +action +artifact +verdict" "show header")
expect_match("${s1_out}" "2 +[0-9T:Z-]+ +alice +optimize +[^ ]*model.bin +needs_signoff +yes" "show row")
hone_run(0 s2 --json ledger show ledger.jsonl --seq 2)
string(JSON s2_action GET "${s2_out}" action)
if(NOT s2_action STREQUAL "optimize")
  message(FATAL_ERROR "show --seq 2 --json: ${s2_out}")
endif()
hone_run(1 s3 ledger show ledger.jsonl --seq 9)
expect_match("${s3_err}" "has no record 9" "show --seq 9")

hone_run(10 c1 check model.bin --ledger ledger.jsonl)
expect_match("${c1_out}" "needs_signoff" "check before approval")

# Bad approvals change nothing.
file(SHA256 ${W}/ledger.jsonl before)
hone_run(1 a1 ledger approve ledger.jsonl --seq 1 --actor bob --key bob.pem) # a baseline record
expect_match("${a1_err}" "'baseline' record" "approve baseline")
hone_run(1 a2 ledger approve ledger.jsonl --seq 2 --actor bob --key missing.pem)
hone_run(1 a3 ledger approve ledger.jsonl --seq 7 --actor bob --key bob.pem)
hone_run(1 a4 ledger approve missing.jsonl --seq 2 --actor bob --key bob.pem)
if(EXISTS ${W}/missing.jsonl)
  message(FATAL_ERROR "approve created a ledger")
endif()
hone_run(1 a5 ledger approve ledger.jsonl --seq 2 --key bob.pem) # no --actor: usage error
file(SHA256 ${W}/ledger.jsonl after)
if(NOT before STREQUAL after)
  message(FATAL_ERROR "a refused approval changed the ledger")
endif()

# The approval, signed: the artifact is approved.
hone_run(0 a6 --json ledger approve ledger.jsonl --seq 2 --actor bob --key bob.pem --reason "looks <fine>")
string(JSON a6_verdict GET "${a6_out}" artifact verdict)
if(NOT a6_verdict STREQUAL "approved")
  message(FATAL_ERROR "approve: ${a6_out}")
endif()
hone_run(1 a7 ledger approve ledger.jsonl --seq 2 --actor bob --key bob.pem) # twice
hone_run(0 c2 check model.bin --ledger ledger.jsonl --require-signatures --trust trust --strict)
expect_match("${c2_out}" "approved" "check after approval")
hone_run(0 c3 --json check model.bin --ledger ledger.jsonl)
string(JSON c3_verdict GET "${c3_out}" verdict)
string(JSON c3_seq GET "${c3_out}" seq)
if(NOT c3_verdict STREQUAL "approved" OR NOT c3_seq EQUAL 2)
  message(FATAL_ERROR "check --json: ${c3_out}")
endif()

# A modified copy of the approved artifact is refused.
fixture(flip ${W}/model.bin ${W}/model-modified.bin 100)
hone_run(30 c4 check model-modified.bin --ledger ledger.jsonl)
expect_match("${c4_out}" "unknown" "check of a modified copy")
hone_run(1 c5 check no-such-model.bin --ledger ledger.jsonl)
hone_run(1 c6 check model.bin --ledger no-such-ledger.jsonl)

# --- rejection ---------------------------------------------------------------------------------
fixture(ledger ${W}/ledger2.jsonl ${W}/model2.bin alice ${W}/alice.pem needs_signoff 2)
hone_run(0 r1 ledger reject ledger2.jsonl --seq 2 --actor bob --key bob.pem --reason "slice regressed")
hone_run(20 r2 check model2.bin --ledger ledger2.jsonl)
hone_run(1 r3 ledger approve ledger2.jsonl --seq 2 --actor carol --key alice.pem)
expect_match("${r3_err}" "rejected by 'bob'" "approve after reject")
fixture(ledger ${W}/ledger3.jsonl ${W}/model3.bin alice ${W}/alice.pem rejected)
hone_run(20 r4 check model3.bin --ledger ledger3.jsonl)
hone_run(1 r5 ledger approve ledger3.jsonl --seq 2 --actor bob --key bob.pem)
fixture(ledger ${W}/ledger4.jsonl ${W}/model4.bin alice ${W}/alice.pem approved)
hone_run(0 r6 check model4.bin --ledger ledger4.jsonl)

# --- issue 19: identities are keys -----------------------------------------------------------
# Tier low, 2 approvals: the optimizer's own key and one key under two names do not sign off.
fixture(ledger ${W}/ledger5.jsonl ${W}/model5.bin optimizer ${W}/alice.pem needs_signoff 2)
hone_run(1 i1 ledger approve ledger5.jsonl --seq 2 --actor reviewer --key alice.pem)
expect_match("${i1_err}" "separation of duties" "the optimizer approving its own change")
hone_run(0 i2 ledger approve ledger5.jsonl --seq 2 --actor bob --key bob.pem)
hone_run(1 i3 ledger approve ledger5.jsonl --seq 2 --actor robert --key bob.pem)
expect_match("${i3_err}" "one key approves once" "one key under two names")
hone_run(10 i4 check model5.bin --ledger ledger5.jsonl)
expect_match("${i4_out}" "needs 1 more" "check after refused approvals")
# Two `hone ledger approve` processes at once (execute_process runs its commands concurrently):
# both land, the chain stays intact. execute_process pipes each command's stdout into the next
# one's stdin: each writes to its own file instead, or the first could die of SIGPIPE when the
# second has already exited.
hone_run(0 i5 keygen --out carol.pem)
hone_run(0 i6 keygen --out dave.pem)
fixture(ledger ${W}/ledger6.jsonl ${W}/model6.bin optimizer ${W}/alice.pem needs_signoff 2)
execute_process(
  COMMAND sh -c "exec \"$0\" ledger approve ledger6.jsonl --seq 2 --actor carol --key carol.pem >carol.out" ${HONE}
  COMMAND sh -c "exec \"$0\" ledger approve ledger6.jsonl --seq 2 --actor dave --key dave.pem >dave.out" ${HONE}
  RESULTS_VARIABLE codes OUTPUT_QUIET ERROR_VARIABLE both_err WORKING_DIRECTORY ${W})
if(NOT codes STREQUAL "0;0")
  message(FATAL_ERROR "concurrent approvals: exit codes ${codes}\n${both_err}")
endif()
hone_run(0 i7 ledger verify ledger6.jsonl)
expect_match("${i7_out}" "verifies: 4 records" "concurrent approvals: nothing lost")
hone_run(0 i8 check model6.bin --ledger ledger6.jsonl)
expect_match("${i8_out}" "signed off by 2 approver" "concurrent approvals count")

# --- tampering: any edited byte makes verify fail, check refuse, approve refuse -------------------
foreach(position 10 200 400)
  file(COPY_FILE ${W}/ledger.jsonl ${W}/saved.jsonl)
  fixture(flip ${W}/saved.jsonl ${W}/ledger.jsonl ${position})
  hone_run(30 t1 ledger verify ledger.jsonl)
  expect_match("${t1_out}" "does NOT verify" "verify after tampering at ${position}")
  hone_run(30 t2 --json ledger verify ledger.jsonl)
  string(JSON t2_ok GET "${t2_out}" ok)
  if(t2_ok)
    message(FATAL_ERROR "verify --json after tampering: ${t2_out}")
  endif()
  hone_run(30 t3 check model.bin --ledger ledger.jsonl)
  file(SHA256 ${W}/ledger.jsonl tampered)
  hone_run(30 t4 ledger approve ledger.jsonl --seq 2 --actor carol --key alice.pem)
  file(SHA256 ${W}/ledger.jsonl tampered_after)
  if(NOT tampered STREQUAL tampered_after)
    message(FATAL_ERROR "approve wrote to a ledger that does not verify")
  endif()
  file(COPY_FILE ${W}/saved.jsonl ${W}/ledger.jsonl)
endforeach()
hone_run(0 v5 ledger verify ledger.jsonl)

# --- report re-rendering; unwritable output -------------------------------------------------------
hone_run(1 p1 report no-such-report.json --html out.html)
file(WRITE ${W}/bad.json "{not json")
hone_run(1 p2 report bad.json --html out.html)
if(EXISTS ${W}/out.html)
  message(FATAL_ERROR "a failed report left out.html behind")
endif()
file(WRITE ${W}/tiny.json "{\"title\":\"<tiny>\",\"decision\":{\"verdict\":\"approved\"}}")
hone_run(1 p3 report tiny.json --html model.bin/out.html) # parent is a file
hone_run(0 p4 report tiny.json --html tiny.html)
file(READ ${W}/tiny.html tiny)
expect_match("${tiny}" "&lt;tiny&gt;" "report escaping")

# --json errors: one object on stdout too.
hone_run(1 j1 --json check no-such-model.bin --ledger ledger.jsonl)
string(JSON j1_status GET "${j1_out}" error status)
if(NOT j1_status STREQUAL "io_error")
  message(FATAL_ERROR "--json error: ${j1_out}")
endif()

# No temporaries left anywhere.
file(GLOB leftovers ${W}/*.tmp* ${W}/.*tmp*)
if(leftovers)
  message(FATAL_ERROR "temporary files left behind: ${leftovers}")
endif()
message(STATUS "test_cli_flow: all checks passed")
