# test_cli_optimize: `hone inspect / optimize / validate / sweep` on the Fashion-MNIST MLP with
# small data subsets (fast): exit codes per verdict, the artifact and report, the ledger verifies
# and refuses tampering, `hone check` accepts the artifact and refuses a modified copy, and bad
# input gives one line, exit 1, no output and an untouched ledger.
#   cmake -DHONE=… -DMODEL=…/mlp.onnx -DWORK_DIR=… -P optimize_flow_test.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(W ${WORK_DIR})

function(hone_run expected name)
  execute_process(COMMAND ${HONE} ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out
                  ERROR_VARIABLE err WORKING_DIRECTORY ${W})
  if(NOT code STREQUAL "${expected}")
    message(FATAL_ERROR "hone ${ARGN}: exit ${code}, expected ${expected}\nstdout: ${out}\nstderr: ${err}")
  endif()
  if(expected STREQUAL "1")
    string(REGEX MATCHALL "\n" newlines "${err}")
    list(LENGTH newlines lines)
    if(NOT lines EQUAL 1)
      message(FATAL_ERROR "hone ${ARGN}: expected one line on stderr, got ${lines}:\n${err}")
    endif()
  endif()
  if(err MATCHES "terminate called|Aborted|what\\(\\)")
    message(FATAL_ERROR "hone ${ARGN}: crashed:\n${err}")
  endif()
  set(${name}_out "${out}" PARENT_SCOPE)
  set(${name}_err "${err}" PARENT_SCOPE)
endfunction()

function(expect_match text regex what)
  if(NOT "${text}" MATCHES "${regex}")
    message(FATAL_ERROR "${what}: '${regex}' not found in:\n${text}")
  endif()
endfunction()

# Small and fast: 256 calibration images, 400 evaluation images, short latency runs.
set(DATA --calib fashion-mnist:train:256 --eval fashion-mnist:test:400 --latency-batch 1,64
    --repeats 3 -q)
# Deterministic verdicts whatever the machine load: generous bounds (approve), the same with a
# required approval (needs sign-off), and a size reduction sparse50 cannot reach (reject).
file(WRITE ${W}/approve.json [[{"tier": "low", "max_accuracy_drop": 0.05, "max_slice_accuracy_drop": 0.5, "min_agreement": 0.8, "max_latency_regression": null, "min_slice_samples": 1000}]])
file(WRITE ${W}/signoff.json [[{"tier": "low", "max_accuracy_drop": 0.05, "max_slice_accuracy_drop": 0.5, "min_agreement": 0.8, "max_latency_regression": null, "min_slice_samples": 1000, "required_approvals": 1}]])
file(WRITE ${W}/reject.json [[{"tier": "low", "max_latency_regression": 100, "min_size_reduction": 0.9}]])

# --- inspect ------------------------------------------------------------------------------
hone_run(0 in inspect ${MODEL})
expect_match("${in_out}" "layers hone optimizes \\(3\\)" "inspect")
expect_match("${in_out}" "/fc1/Gemm +Gemm +\\[256x784\\].*int4 group 112" "inspect fc1")
hone_run(0 inj --json inspect ${MODEL})
string(JSON nlayers LENGTH "${inj_out}" optimizable_layers)
if(NOT nlayers EQUAL 3)
  message(FATAL_ERROR "inspect --json: ${nlayers} layers")
endif()

# --- optimize: one run per verdict ---------------------------------------------------------
hone_run(0 key keygen --out id.pem)
hone_run(0 ok optimize ${MODEL} --recipe int8 ${DATA} --policy approve.json --out art
         --ledger ledger.jsonl --report rep --actor ci --key id.pem)
expect_match("${ok_out}" "decision: approved" "optimize int8")
foreach(f art/model.onnx rep/report.html rep/report.json)
  if(NOT EXISTS ${W}/${f})
    message(FATAL_ERROR "optimize did not write ${f}")
  endif()
endforeach()
# The default format is one standard QDQ ONNX: no side file.
if(EXISTS ${W}/art/weights.safetensors)
  message(FATAL_ERROR "optimize --format qdq wrote hone's packed weights too")
endif()
file(SIZE ${W}/art/model.onnx art_bytes)
file(READ ${W}/rep/report.json report)
string(JSON verdict GET "${report}" decision verdict)
if(NOT verdict STREQUAL "approved")
  message(FATAL_ERROR "report.json verdict ${verdict}")
endif()
# The size reported is the file's: at least 3.5x smaller than the f32 model.
string(JSON bb GET "${report}" metrics baseline model_bytes)
string(JSON kb GET "${report}" metrics candidate model_bytes)
if(NOT kb EQUAL art_bytes)
  message(FATAL_ERROR "report.json says ${kb} bytes, art/model.onnx has ${art_bytes}")
endif()
math(EXPR ratio10 "${bb} * 10 / ${kb}")
if(ratio10 LESS 35)
  message(FATAL_ERROR "int8 candidate ${kb} bytes vs baseline ${bb}")
endif()

hone_run(10 so --json optimize ${MODEL} --recipe cluster16 ${DATA} --policy signoff.json
         --out so.onnx --format hone --ledger ledger.jsonl --actor ci --key id.pem)
string(JSON verdict GET "${so_out}" decision verdict)
if(NOT verdict STREQUAL "needs_signoff")
  message(FATAL_ERROR "--json verdict ${verdict}")
endif()
foreach(member accuracy model_bytes)
  string(JSON v GET "${so_out}" metrics candidate ${member})
endforeach()
if(NOT EXISTS ${W}/so.onnx OR NOT EXISTS ${W}/so.safetensors)
  message(FATAL_ERROR "--out so.onnx: so.onnx and so.safetensors expected")
endif()

hone_run(20 rj optimize ${MODEL} --recipe sparse50 ${DATA} --policy reject.json --out rj
         --ledger ledger.jsonl --actor ci --key id.pem)
expect_match("${rj_out}" "decision: rejected" "optimize rejected")

# A recipe file: fc3 excluded, int4 GPTQ with a per-layer override, run through sweep too.
file(WRITE ${W}/r.json [[{"name": "mixed", "layers": {"exclude": ["/fc3/*"]},
  "steps": [{"kind": "quantize", "bits": 4, "granularity": "per_group", "group_size": 128, "method": "gptq"}],
  "overrides": {"/fc2/*": {"quantize": {"bits": 8, "granularity": "per_channel", "method": "rtn"}}}}]])
hone_run(0 rf --json optimize ${MODEL} --recipe r.json ${DATA} --policy approve.json --out rf
         --ledger ledger.jsonl --actor ci --key id.pem)
string(JSON nl LENGTH "${rf_out}" layers)
if(NOT nl EQUAL 2)
  message(FATAL_ERROR "recipe with /fc3/* excluded changed ${nl} layers:\n${rf_out}")
endif()
expect_match("${rf_out}" "int4 per_group g112 gptq" "fc1 int4 group 112")
expect_match("${rf_out}" "int8 per_channel" "fc2 override")

# --- ledger and check ------------------------------------------------------------------------
hone_run(0 v ledger verify ledger.jsonl)
hone_run(0 c1 check art/model.onnx --ledger ledger.jsonl)
hone_run(10 c2 check so.onnx --ledger ledger.jsonl)
hone_run(20 c3 check rj/model.onnx --ledger ledger.jsonl)
file(COPY_FILE ${W}/art/model.onnx ${W}/copy.onnx)
file(APPEND ${W}/copy.onnx " ")
hone_run(30 c4 check copy.onnx --ledger ledger.jsonl)
# Tampering: one byte of the ledger changed (the actor of the first optimize record) → verify
# fails.
file(READ ${W}/ledger.jsonl text)
string(FIND "${text}" "\"actor\":\"ci\"" at)
if(at LESS 0)
  message(FATAL_ERROR "no actor ci in the ledger:\n${text}")
endif()
math(EXPR at "${at} + 10")
string(SUBSTRING "${text}" 0 ${at} head)
math(EXPR rest "${at} + 1")
string(SUBSTRING "${text}" ${rest} -1 tail)
set(tampered "${head}j${tail}")
file(WRITE ${W}/tampered.jsonl "${tampered}")
if(EXISTS ${W}/ledger.jsonl.head)
  file(COPY_FILE ${W}/ledger.jsonl.head ${W}/tampered.jsonl.head)
endif()
hone_run(30 t ledger verify tampered.jsonl)

# --- validate and sweep -----------------------------------------------------------------------
hone_run(0 va validate ${MODEL} art/model.onnx --eval fashion-mnist:test:400 --policy approve.json
         --latency-batch 1 --repeats 3 -q)
expect_match("${va_out}" "decision: approved" "validate")
hone_run(0 sw sweep ${MODEL} --recipes int8,sparse50,cluster16 --calib fashion-mnist:train:256
         --eval fashion-mnist:test:400 --policy approve.json --latency-batch 64 --repeats 3
         --report sweep -q)
expect_match("${sw_out}" "sparse50" "sweep table")
file(READ ${W}/sweep/report.json sweep)
string(JSON np LENGTH "${sweep}" candidates)
if(np LESS 4)
  message(FATAL_ERROR "sweep report: ${np} candidates")
endif()

# --- bad input: one line, exit 1, nothing written, the ledger untouched ------------------------
file(READ ${W}/ledger.jsonl before)
file(WRITE ${W}/garbage.onnx "not a model")
file(WRITE ${W}/recipe_bad.json "{\"steps\": [")
file(WRITE ${W}/wrong.npy "")
file(WRITE ${W}/recipe_none.json [[{"layers": {"include": ["nothing*"]}, "steps": [{"kind": "quantize"}]}]])
file(WRITE ${W}/recipe_field.json [[{"steps": [{"kind": "quantize", "bitz": 4}]}]])
execute_process(COMMAND ${CMAKE_COMMAND} -E make_directory ${W}/ro)
set(M ${MODEL})
set(C "--calib fashion-mnist:train:64")
set(E "--eval fashion-mnist:test:64")
set(L "--ledger ledger.jsonl -q")
set(bad_cases
  "missing model|missing.onnx --recipe int8 ${C} ${E} --out bad1 ${L}"
  "malformed model|garbage.onnx --recipe int8 ${C} ${E} --out bad2 ${L}"
  "unknown preset|${M} --recipe int3 ${C} ${E} --out bad3 ${L}"
  "malformed recipe|${M} --recipe recipe_bad.json ${C} ${E} --out bad4 ${L}"
  "missing data|${M} --recipe int8 --calib nowhere.npy ${E} --out bad5 ${L}"
  "shape does not fit|${M} --recipe int8 ${C} ${E} --input-shape 1x20x20 --out bad6 ${L}"
  "unwritable out|${M} --recipe int8 ${C} ${E} --out /proc/hone-out ${L}"
  "unknown policy|${M} --recipe int8 ${C} ${E} --policy extreme --out bad8 ${L}"
  "recipe selecting nothing|${M} --recipe recipe_none.json ${C} ${E} --out bad10 ${L}"
  "recipe with an unknown field|${M} --recipe recipe_field.json ${C} ${E} --out bad11 ${L}"
  "bad npy data|${M} --recipe int8 ${C} --eval wrong.npy --out bad9 ${L}")
foreach(case IN LISTS bad_cases)
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 what)
  list(GET parts 1 argline)
  separate_arguments(args UNIX_COMMAND "${argline}")
  hone_run(1 bad optimize ${args})
  file(GLOB written ${W}/bad*)
  if(written)
    message(FATAL_ERROR "${what}: wrote ${written}")
  endif()
  file(READ ${W}/ledger.jsonl after)
  if(NOT after STREQUAL before)
    message(FATAL_ERROR "${what}: the ledger changed")
  endif()
endforeach()
# A ledger that does not verify is refused before anything is appended.
hone_run(30 badl optimize ${MODEL} --recipe int8 ${DATA} --policy approve.json --out badl
         --ledger tampered.jsonl)
file(READ ${W}/tampered.jsonl after)
if(NOT after STREQUAL tampered OR EXISTS ${W}/badl)
  message(FATAL_ERROR "a tampered ledger was appended to, or output was written")
endif()
message(STATUS "optimize flow: all checks passed")
