# Compiles control/dashboard.html into the binary as dashboard_html[] in the
# generated header dashboard_html.h (included by control/dashboard.c), so the
# dashboard needs no files and no network at run time. Regenerated when the
# page changes (it is a configure dependency); written only if different.
set(DASHBOARD_HTML ${CMAKE_CURRENT_LIST_DIR}/dashboard.html)
set(DASHBOARD_HEADER ${CMAKE_BINARY_DIR}/generated/dashboard_html.h)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${DASHBOARD_HTML})
file(READ ${DASHBOARD_HTML} dashboard_hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," dashboard_hex "${dashboard_hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)"
       "\\1\n" dashboard_hex "${dashboard_hex}")
file(CONFIGURE OUTPUT ${DASHBOARD_HEADER} @ONLY
     CONTENT "/* Generated from control/dashboard.html by control/dashboard.cmake: do not edit. */\nstatic const unsigned char dashboard_html[] = {\n${dashboard_hex}};\n")
target_include_directories(minivmm_control PRIVATE ${CMAKE_BINARY_DIR}/generated)
