# test_cli_cyclonedx: `hone ledger export --format cyclonedx` on a real `hone optimize` record
# (the Fashion-MNIST MLP, small data subsets), validated against the published CycloneDX 1.6
# JSON schema with ajv (tests/cyclonedx/validate_bom.js; npm packages pinned in
# tests/cyclonedx/package.json) and compared field by field with the record and the files by
# tests/cli/check_bom.py (Python's json and hashlib, not hone's code). Broken BOMs must fail
# the schema check; bad requests are refused.
#   cmake -DHONE=… -DMODEL=…/mlp.onnx -DNODE=… -DPYTHON=… -DSOURCE_DIR=… -DWORK_DIR=…
#         -P cyclonedx_test.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(W ${WORK_DIR})
set(VALIDATE ${SOURCE_DIR}/tests/cyclonedx/validate_bom.js)

function(run expected name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err
                  WORKING_DIRECTORY ${W})
  if(NOT code STREQUAL "${expected}")
    message(FATAL_ERROR "${ARGN}: exit ${code}, expected ${expected}\nstdout: ${out}\nstderr: ${err}")
  endif()
  set(${name}_out "${out}" PARENT_SCOPE)
  set(${name}_err "${err}" PARENT_SCOPE)
endfunction()

function(expect_match text regex what)
  if(NOT "${text}" MATCHES "${regex}")
    message(FATAL_ERROR "${what}: '${regex}' not found in:\n${text}")
  endif()
endfunction()

# A real optimize record: int8 on the MLP, needs one sign-off (exit 10).
file(WRITE ${W}/signoff.json [[{"tier": "low", "max_accuracy_drop": 0.05, "max_slice_accuracy_drop": 0.5, "min_agreement": 0.8, "max_latency_regression": 100, "min_slice_samples": 1000, "required_approvals": 1}]])
run(0 key ${HONE} keygen --out ci.pem)
run(10 opt ${HONE} optimize ${MODEL} --recipe int8 --calib fashion-mnist:train:256
    --eval fashion-mnist:test:400 --latency-batch 1,64 --repeats 3 -q --policy signoff.json
    --out art --ledger ledger.jsonl --actor ci --key ci.pem)

run(0 e1 ${HONE} ledger export ledger.jsonl --format cyclonedx --out bom.json)
expect_match("${e1_err}" "wrote the CycloneDX BOM of record 2 to bom.json" "export message")
run(0 e2 ${HONE} ledger export ledger.jsonl --format cyclonedx --seq 2)
file(READ ${W}/bom.json bom)
if(NOT e2_out STREQUAL bom)
  message(FATAL_ERROR "the same record exported twice gave different bytes")
endif()

# The schema and the validator must be installed: a missing one fails (never skips), naming
# what to install.
execute_process(COMMAND ${NODE} ${VALIDATE} ${W}/bom.json RESULT_VARIABLE code
                OUTPUT_VARIABLE schema_out ERROR_VARIABLE err)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "the BOM does not validate (exit ${code}):\n${err}")
endif()
expect_match("${schema_out}" "^valid 1" "schema validation")
run(0 fields ${PYTHON} ${SOURCE_DIR}/tests/cli/check_bom.py ${W}/ledger.jsonl 2 ${W}/bom.json
    ${W}/art/model.onnx ${MODEL})
expect_match("${fields_out}" "^ok [0-9]+" "field comparison")

# Deliberately broken BOMs fail the schema check, naming where.
string(JSON b1 SET "${bom}" components 0 modelCard quantitativeAnalysis performanceMetrics 0
       value "0.5")
string(JSON b2 SET "${bom}" components 0 hashes 0 alg "\"SHA256\"")
string(JSON b3 REMOVE "${bom}" bomFormat)
string(JSON b4 SET "${bom}" components 0 modelCard quantitativeAnalysis performanceMetrics 0
       confidenceInterval "{\"lower\": \"0\"}")
foreach(i 1 2 3 4)
  file(WRITE ${W}/broken${i}.json "${b${i}}")
endforeach()
run(1 v ${NODE} ${VALIDATE} ${W}/broken1.json ${W}/broken2.json ${W}/broken3.json
    ${W}/broken4.json)
expect_match("${v_err}" "broken1.json: [^\n]*performanceMetrics/0/value must be string"
             "broken value")
expect_match("${v_err}"
             "broken2.json: /components/0/hashes/0/alg must be equal to one of the allowed values"
             "broken hash algorithm")
expect_match("${v_err}" "broken3.json: / must have required property 'bomFormat'" "no bomFormat")
expect_match("${v_err}" "broken4.json: [^\n]*confidenceInterval must NOT have additional properties"
             "bad interval")

# Refusals: not an optimize record, a tampered ledger, a format hone does not write.
run(1 r1 ${HONE} ledger export ledger.jsonl --format cyclonedx --seq 1)
expect_match("${r1_err}" "record 1 is not an optimize record" "--seq 1")
run(1 r2 ${HONE} ledger export ledger.jsonl --format spdx)
file(READ ${W}/ledger.jsonl ledger)
string(REPLACE "\"candidate_name\":\"candidate int8\"" "\"candidate_name\":\"candidate int9\""
       tampered "${ledger}")
if(tampered STREQUAL ledger)
  message(FATAL_ERROR "the tampering did not change the ledger")
endif()
file(WRITE ${W}/ledger.jsonl "${tampered}")
run(30 r3 ${HONE} ledger export ledger.jsonl --format cyclonedx)
expect_match("${r3_err}" "does not verify \\(line 2" "tampered ledger")
message(STATUS "test_cli_cyclonedx: all checks passed")
