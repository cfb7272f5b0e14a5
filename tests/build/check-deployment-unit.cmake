# docs/deployment.md quotes the systemd unit that the packages install
# (resources/forgejo-mcp-broker.service.in, configured for /usr as in the .deb):
# one source of truth, so the page and the unit never drift apart (issue 15).
#   cmake -DSOURCE_DIR=... -P check-deployment-unit.cmake
set(FMB_UNIT_BINDIR /usr/bin)
set(FMB_UNIT_CONFDIR /etc)
set(unit_file "${CMAKE_CURRENT_BINARY_DIR}/forgejo-mcp-broker.service.expected")
configure_file("${SOURCE_DIR}/resources/forgejo-mcp-broker.service.in" "${unit_file}" @ONLY)
file(READ "${unit_file}" unit)

file(READ "${SOURCE_DIR}/docs/deployment.md" doc)
set(marker "\n## systemd unit\n")
string(FIND "${doc}" "${marker}" at)
if(at EQUAL -1)
    message(FATAL_ERROR "docs/deployment.md: no \"## systemd unit\" section")
endif()
string(SUBSTRING "${doc}" ${at} -1 doc)
string(FIND "${doc}" "```ini\n" open)
if(open EQUAL -1)
    message(FATAL_ERROR "docs/deployment.md: no ```ini block in \"## systemd unit\"")
endif()
math(EXPR open "${open} + 7")
string(SUBSTRING "${doc}" ${open} -1 doc)
string(FIND "${doc}" "```" close)
string(SUBSTRING "${doc}" 0 ${close} quoted)

if(NOT quoted STREQUAL unit)
    file(WRITE "${unit_file}.quoted" "${quoted}")
    execute_process(COMMAND diff -u "${unit_file}" "${unit_file}.quoted")
    message(FATAL_ERROR "docs/deployment.md quotes another unit than "
                        "resources/forgejo-mcp-broker.service.in configured for /usr (diff above)")
endif()
message(STATUS "docs/deployment.md quotes the packaged unit")
