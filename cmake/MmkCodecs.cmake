# The compression libraries behind mmk_decoder_* (src/decode.c) and `mmk grep
# -z`. Each one is optional: when its header and library are found,
# MMK_HAVE_<NAME> is defined for decode.c and the library is linked to libmmkit;
# when one is missing (or turned off with -DMMK_WITH_<NAME>=OFF) its format
# answers MMK_ENOTSUP and the build goes on. gzip uses ISA-L's inflater when
# present (the fastest that streams, see src/decode.c), else zlib's.
#
# Sets MMK_CODEC_DEFINITIONS, MMK_CODEC_INCLUDE_DIRS, MMK_CODEC_LIBRARIES (for
# the build: found paths; for an installed libmmkit.a: plain -l names) and
# MMK_PC_CODEC_LIBS (Libs.private of mmkit.pc).
set(MMK_CODEC_DEFINITIONS "")
set(MMK_CODEC_INCLUDE_DIRS "")
set(MMK_CODEC_LIBRARIES "")
set(MMK_PC_CODEC_LIBS "")
set(MMK_CODECS_FOUND "")
set(MMK_CODECS_MISSING "")

# mmk_find_codec(NAME HEADER LIBNAME DESCRIPTION)
macro(mmk_find_codec name header libname what)
  option(MMK_WITH_${name} "Decode ${what} (when the library is found)" ON)
  set(MMK_HAVE_${name} OFF)
  if(MMK_WITH_${name})
    find_path(MMK_${name}_INCLUDE_DIR ${header})
    find_library(MMK_${name}_LIBRARY ${libname})
    if(MMK_${name}_INCLUDE_DIR AND MMK_${name}_LIBRARY)
      set(MMK_HAVE_${name} ON)
      list(APPEND MMK_CODEC_DEFINITIONS MMK_HAVE_${name})
      list(APPEND MMK_CODEC_INCLUDE_DIRS ${MMK_${name}_INCLUDE_DIR})
      list(APPEND MMK_CODEC_LIBRARIES
        "$<BUILD_INTERFACE:${MMK_${name}_LIBRARY}>" "$<INSTALL_INTERFACE:${libname}>")
      string(APPEND MMK_PC_CODEC_LIBS " -l${libname}")
      list(APPEND MMK_CODECS_FOUND ${name})
    else()
      list(APPEND MMK_CODECS_MISSING ${name})
    endif()
  else()
    list(APPEND MMK_CODECS_MISSING "${name}(off)")
  endif()
endmacro()

mmk_find_codec(ZLIB zlib.h z "gzip with zlib (the fallback inflater)")
mmk_find_codec(ISAL isa-l/igzip_lib.h isal "gzip with ISA-L's inflater")
mmk_find_codec(ZSTD zstd.h zstd "zstd")
mmk_find_codec(LZMA lzma.h lzma "xz")
mmk_find_codec(BZ2 bzlib.h bz2 "bzip2")
list(REMOVE_DUPLICATES MMK_CODEC_INCLUDE_DIRS)
string(REPLACE ";" " " _found "${MMK_CODECS_FOUND}")
string(REPLACE ";" " " _missing "${MMK_CODECS_MISSING}")
message(STATUS "mmkit decoders: found: ${_found}; missing: ${_missing}")
