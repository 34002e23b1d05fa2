# SPDX-License-Identifier: MIT
# Runs one example and compares its standard output with the expected text;
# every match of MASK (a regex, optional: what varies from run to run) is
# replaced by "#" in both first.
# cmake -DEXE=path -DEXPECTED=path [-DMASK=regex] -P check_output.cmake
execute_process(COMMAND ${EXE} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} exited with ${rc}; output:\n${out}")
endif()
file(READ ${EXPECTED} want)
if(DEFINED MASK)
  string(REGEX REPLACE "${MASK}" "#" out_m "${out}")
  string(REGEX REPLACE "${MASK}" "#" want_m "${want}")
else()
  set(out_m "${out}")
  set(want_m "${want}")
endif()
if(NOT out_m STREQUAL want_m)
  message(FATAL_ERROR "${EXE} printed:\n${out}\nexpected:\n${want}")
endif()
