# test_cli_attestation: `hone ledger export --format in-toto` verified by independent code
# (tests/cli/verify_dsse.py with Python's cryptography).
#   cmake -DHONE=… -DFIXTURE=… -DPYTHON=… -DWORK_DIR=… -DSOURCE_DIR=… -P attestation_test.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(W ${WORK_DIR})

function(run expected name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err
                  WORKING_DIRECTORY ${W})
  if(NOT code STREQUAL "${expected}")
    message(FATAL_ERROR "${ARGN}: exit ${code}, expected ${expected}\nstdout: ${out}\nstderr: ${err}")
  endif()
  set(${name}_out "${out}" PARENT_SCOPE)
  set(${name}_err "${err}" PARENT_SCOPE)
endfunction()

execute_process(COMMAND ${PYTHON} -c "import cryptography" RESULT_VARIABLE has_crypto)
if(NOT has_crypto EQUAL 0)
  message(FATAL_ERROR "${PYTHON} has no 'cryptography': install the Debian package python3-cryptography (scripts/setup.sh does)")
endif()

run(0 k1 ${HONE} keygen --out ci.pem)
run(0 k2 ${HONE} keygen --out other.pem)
run(0 kp ${HONE} keygen --out ci.pem --public)
string(STRIP "${kp_out}" ci_key)
run(0 f ${FIXTURE} ledger ${W}/ledger.jsonl ${W}/model.bin ci ${W}/ci.pem needs_signoff 1)

run(0 e1 ${HONE} ledger export ledger.jsonl --format in-toto --key ci.pem --out att.jsonl)
run(0 py ${PYTHON} ${SOURCE_DIR}/tests/cli/verify_dsse.py ${W}/att.jsonl ${W}/model.bin ${ci_key})
if(NOT py_out MATCHES "^ok 2")
  message(FATAL_ERROR "verify_dsse: ${py_out}")
endif()
run(0 e2 ${HONE} ledger export ledger.jsonl --seq 2 --key ci.pem)
file(WRITE ${W}/stdout.jsonl "${e2_out}")
run(0 py2 ${PYTHON} ${SOURCE_DIR}/tests/cli/verify_dsse.py ${W}/stdout.jsonl ${W}/model.bin ${ci_key})

# The independent check fails on a tampered envelope (one payload byte changed).
file(READ ${W}/att.jsonl envelope)
string(JSON payload GET "${envelope}" payload)
string(SUBSTRING "${payload}" 0 10 head)
string(SUBSTRING "${payload}" 11 -1 tail)
string(SUBSTRING "${payload}" 10 1 c)
if(c STREQUAL "A")
  set(c "B")
else()
  set(c "A")
endif()
string(JSON tampered SET "${envelope}" payload "\"${head}${c}${tail}\"")
file(WRITE ${W}/tampered.jsonl "${tampered}\n")
run(1 py3 ${PYTHON} ${SOURCE_DIR}/tests/cli/verify_dsse.py ${W}/tampered.jsonl ${W}/model.bin ${ci_key})

# Refusals: another key, a record that is not an optimize record, a bad format.
run(1 r1 ${HONE} ledger export ledger.jsonl --key other.pem)
if(NOT r1_err MATCHES "no optimize record")
  message(FATAL_ERROR "export with another key: ${r1_err}")
endif()
run(1 r2 ${HONE} ledger export ledger.jsonl --seq 1 --key ci.pem)
run(1 r3 ${HONE} ledger export ledger.jsonl --seq 2 --key other.pem)
run(1 r4 ${HONE} ledger export ledger.jsonl --format cyclonedx --key ci.pem)
message(STATUS "test_cli_attestation: all checks passed")
