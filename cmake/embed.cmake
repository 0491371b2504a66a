# Turn a file into a C array at build time:
#   cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
# writes `const char NAME[]` (the bytes and a final NUL) and
# `const unsigned long NAME_len` (the bytes without the NUL).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Sixteen bytes a line, so that the generated file stays readable.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n  " bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* Generated from ${IN} by cmake/embed.cmake: do not edit. */\n"
  "const char ${NAME}[] = {\n  ${bytes}0x00};\n"
  "const unsigned long ${NAME}_len = ${len};\n")
# Replace only when changed, so an unchanged asset rebuilds nothing.
execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${OUT}.tmp" "${OUT}")
file(REMOVE "${OUT}.tmp")
