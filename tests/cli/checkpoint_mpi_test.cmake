# test_cli_checkpoint_mpi: `hone checkpoint quantize` on the language-model fixture started by
# `mpirun -np 2` against the same command in one process: the same GGUF bytes (pieces split
# across the two ranks, the calibration hidden states passed between them), the same
# validation figures (the evaluation batches split, the per-sequence sums gathered exactly),
# one ledger record (rank 0's) that `hone check` accepts, and a failing rank ending the job.
#   cmake -DHONE=… -DMPIRUN=… -DLM=tests/fixtures/lm -DWORK_DIR=… -P checkpoint_mpi_test.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(W ${WORK_DIR})

# Open MPI refuses root without these; --oversubscribe lets 2 ranks run on 1 core; the shared
# memory transport's single-copy mechanism (CMA) is often denied in containers.
set(ENV{OMPI_ALLOW_RUN_AS_ROOT} 1)
set(ENV{OMPI_ALLOW_RUN_AS_ROOT_CONFIRM} 1)
set(ENV{OMPI_MCA_btl_vader_single_copy_mechanism} none)
set(ENV{OMPI_MCA_rmaps_base_oversubscribe} 1)
set(mpirun ${MPIRUN} -np 2 -x HONE_NUM_THREADS=1)

# 40 held-out sequences in batches of 8: 5 batches, 3 on rank 0 and 2 on rank 1.
set(common checkpoint quantize ${LM}/hf --type Q4_0 --calib ${LM}/tokens.calib.npy:8
    --eval ${LM}/tokens.eval.npy:40 --batch 8 --json --quiet)

function(run name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out
                  ERROR_VARIABLE err WORKING_DIRECTORY ${W})
  set(${name}_code "${code}" PARENT_SCOPE)
  set(${name}_out "${out}" PARENT_SCOPE)
  set(${name}_err "${err}" PARENT_SCOPE)
endfunction()

run(one ${HONE} ${common} -o one.gguf --ledger one.jsonl)
if(NOT one_code STREQUAL "0")
  message(FATAL_ERROR "one process: exit ${one_code}\n${one_out}\n${one_err}")
endif()
run(two ${mpirun} ${HONE} ${common} -o two.gguf --ledger two.jsonl)
if(NOT two_code STREQUAL "0")
  message(FATAL_ERROR "mpirun -np 2: exit ${two_code}\n${two_out}\n${two_err}")
endif()

file(SHA256 ${W}/one.gguf one_sha)
file(SHA256 ${W}/two.gguf two_sha)
if(NOT one_sha STREQUAL two_sha)
  message(FATAL_ERROR "mpirun -np 2 wrote other GGUF bytes than one process")
endif()
if(EXISTS ${W}/two.gguf.work)
  message(FATAL_ERROR "mpirun -np 2 left its work folder")
endif()

# Rank 0 alone prints (one JSON object); the figures with their intervals are one process's,
# to the last digit.
foreach(part language_model accuracy)
  string(JSON a GET "${one_out}" validation ${part})
  string(JSON b GET "${two_out}" validation ${part})
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "validation.${part} on 2 ranks:\n${b}\nin one process:\n${a}")
  endif()
endforeach()
string(JSON sequences GET "${two_out}" validation language_model overall sequences)
if(NOT sequences EQUAL 40)
  message(FATAL_ERROR "validated ${sequences} sequences, expected 40")
endif()

# One record, rank 0's, and hone check accepts the GGUF against it.
file(STRINGS ${W}/two.jsonl records)
list(LENGTH records n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "${n} ledger records from mpirun -np 2, expected 1")
endif()
run(check ${HONE} check two.gguf --ledger two.jsonl)
if(NOT check_code STREQUAL "0")
  message(FATAL_ERROR "hone check two.gguf: exit ${check_code}\n${check_out}\n${check_err}")
endif()

# A rank that fails ends the job with its error, naming the rank; no GGUF is written.
run(bad ${mpirun} ${HONE} checkpoint quantize ${LM}/hf --type Q4_0 --eval ${W}/missing.npy
    -o bad.gguf --quiet)
if(bad_code STREQUAL "0" OR NOT bad_err MATCHES "rank [01] of 2.*missing.npy")
  message(FATAL_ERROR "a failing rank: exit ${bad_code}\n${bad_err}")
endif()
if(EXISTS ${W}/bad.gguf)
  message(FATAL_ERROR "a failed mpirun run left bad.gguf")
endif()
