# test_determinism_stress: `hone optimize` with the int4 (GPTQ) and sparse50 (SparseGPT)
# presets on the committed MLP, RUNS times at 2 and at 4 threads (HONE_NUM_THREADS): every run
# must write a byte-identical artifact (the deployable model.onnx: GPTQ's int4 weights in QDQ,
# SparseGPT's pruned weights). Catches thread
# races and thread-count-dependent reductions in calibration, the Hessian, GPTQ and SparseGPT.
# (Calibration and evaluation both come from the test split: it loads 6x faster than train.)
#   cmake -DHONE=… -DMODEL=…/mlp.onnx -DWORK_DIR=… [-DRUNS=20] -P determinism_stress_test.cmake
cmake_minimum_required(VERSION 3.25)
if(NOT DEFINED RUNS)
  set(RUNS 20)
endif()
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
file(WRITE ${WORK_DIR}/policy.json [[{"tier": "low", "max_accuracy_drop": 1, "max_slice_accuracy_drop": 1, "min_agreement": 0, "max_latency_regression": null}]])

foreach(recipe int4 sparse50)
  set(first "")
  foreach(threads 2 4)
    foreach(run RANGE 1 ${RUNS})
      set(dir ${WORK_DIR}/${recipe}_${threads}_${run})
      execute_process(
        COMMAND ${CMAKE_COMMAND} -E env HONE_NUM_THREADS=${threads}
                ${HONE} optimize ${MODEL} --recipe ${recipe} --calib fashion-mnist:test:256
                --eval fashion-mnist:test:64 --latency-batch 1 --repeats 1
                --policy ${WORK_DIR}/policy.json --out ${dir}/model.onnx
                --ledger ${dir}/ledger.jsonl -q
        RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
      # The verdict is not the point (one latency repeat on a loaded machine can reject):
      # approved, needs sign-off and rejected all write the artifact; errors (1, 30) fail.
      if(NOT code MATCHES "^(0|10|20)$")
        message(FATAL_ERROR "${recipe}, ${threads} threads, run ${run}: exit ${code}\n${out}\n${err}")
      endif()
      file(SHA256 ${dir}/model.onnx digest)
      if(first STREQUAL "")
        set(first "${digest}")
        set(first_run "${threads} threads, run ${run}")
      elseif(NOT digest STREQUAL first)
        message(FATAL_ERROR "${recipe}: ${threads} threads, run ${run} wrote different bytes "
                            "than ${first_run}:\n  ${digest}\n  ${first}")
      endif()
      file(REMOVE_RECURSE ${dir})
    endforeach()
  endforeach()
  message(STATUS "${recipe}: ${RUNS} runs at 2 and at 4 threads, identical artifacts ${first}")
endforeach()
