# SPDX-License-Identifier: MIT
# Runs one example and compares its standard output with the expected text.
# cmake -DEXE=path [-DEXE_ARG=arg] -DEXPECTED=path [-DMASK=regex] -P run_example.cmake
# EXE_ARG (optional): one argument for EXE (a path: a list would not survive
# the test's command line).
# MASK (optional): what varies from run to run; every match is replaced by
# "#" in both texts before they are compared.
execute_process(COMMAND ${EXE} ${EXE_ARG} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} exited with ${rc}; output:\n${out}")
endif()
file(READ ${EXPECTED} want)
set(out_cmp "${out}")
set(want_cmp "${want}")
if(DEFINED MASK)
  string(REGEX REPLACE "${MASK}" "#" out_cmp "${out}")
  string(REGEX REPLACE "${MASK}" "#" want_cmp "${want}")
endif()
if(NOT out_cmp STREQUAL want_cmp)
  message(FATAL_ERROR "${EXE} printed:\n${out}\nexpected:\n${want}")
endif()
