# SPDX-License-Identifier: MIT
# Runs one example and compares its standard output with the expected text.
# cmake -DEXE=path -DEXPECTED=path -P run_example.cmake
execute_process(COMMAND ${EXE} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} exited with ${rc}; output:\n${out}")
endif()
file(READ ${EXPECTED} want)
if(NOT out STREQUAL want)
  message(FATAL_ERROR "${EXE} printed:\n${out}\nexpected:\n${want}")
endif()
