# test_cli_report_screenshot: render the sample report, re-render it from its JSON with
# `hone report`, and look at it in a real headless browser.
#   cmake -DHONE=… -DFIXTURE=… -DCHROMIUM=… -DWORK_DIR=… -P report_screenshot_test.cmake
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(W ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err
                  WORKING_DIRECTORY ${W})
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${ARGN}: exit ${code}\n${out}\n${err}")
  endif()
  set(run_out "${out}" PARENT_SCOPE)
endfunction()

run(${HONE} keygen --out ${W}/key.pem)
run(${FIXTURE} report ${W}/sample ${W}/key.pem)
run(${HONE} report ${W}/sample/report.json --html ${W}/rerendered.html)
file(SHA256 ${W}/sample/report.html a)
file(SHA256 ${W}/rerendered.html b)
if(NOT a STREQUAL b)
  message(FATAL_ERROR "hone report renders report.json differently from the original page")
endif()

# The page must be self-contained: nothing fetched from anywhere.
file(READ ${W}/sample/report.html page)
foreach(forbidden "<script" " src=" "<link" "@import" "url(")
  string(FIND "${page}" "${forbidden}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "report.html contains '${forbidden}': not self-contained")
  endif()
endforeach()

# Chromium refuses to run as root without --no-sandbox (CI containers run as root).
set(png ${W}/report.png)
execute_process(
  COMMAND ${CHROMIUM} --headless --no-sandbox --disable-gpu --hide-scrollbars
          --no-first-run --disable-extensions --user-data-dir=${W}/chromium-profile
          --screenshot=${png} --window-size=1100,1800 file://${W}/sample/report.html
  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 150)
if(NOT EXISTS ${png})
  message(FATAL_ERROR "chromium wrote no screenshot (exit ${code})\n${out}\n${err}")
endif()
file(SIZE ${png} size)
if(size LESS 20000)
  message(FATAL_ERROR "screenshot is only ${size} bytes: the page did not render")
endif()

# Decode it: many colours (text, tables, charts), and the verdict badge's own colour
# (approved green #1f8a4c for the sample's low tier) painted over a real area.
run(${FIXTURE} png-stats ${png} 1f8a4c)
string(STRIP "${run_out}" stats)
string(REPLACE " " ";" stats "${stats}")
list(GET stats 0 width)
list(GET stats 1 height)
list(GET stats 2 colours)
list(GET stats 3 green)
if(NOT width EQUAL 1100 OR NOT height EQUAL 1800)
  message(FATAL_ERROR "screenshot is ${width}x${height}, expected 1100x1800")
endif()
if(colours LESS 50)
  message(FATAL_ERROR "screenshot has only ${colours} colours: blank or unstyled")
endif()
if(green LESS 500)
  message(FATAL_ERROR "screenshot has ${green} pixels of the verdict colour: badge not drawn")
endif()
message(STATUS "screenshot ${png}: ${width}x${height}, ${size} bytes, ${colours} colours, "
               "${green} badge pixels")
