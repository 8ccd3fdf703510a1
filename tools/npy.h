/* npy.h — NumPy .npy files for tools without Lua (tlua-run): numeric
 * dtypes, format versions 1.0/2.0/3.0, C order only, little-endian. */
#ifndef TLUA_NPY_H
#define TLUA_NPY_H
#include "tl.h"

/* Parses an .npy file held in memory; every length is checked. */
tl_status tl_npy_parse(const void *buf, size_t len, tl_tensor **out);
tl_status tl_npy_read(const char *path, tl_tensor **out);
/* Writes t as a version 1.0 file (2.0 when the header needs it). */
tl_status tl_npy_write(tl_tensor *t, const char *path);
/* A whole file in memory (malloc'd); limit: the most bytes accepted. */
tl_status tl_read_file(const char *path, size_t limit, char **out, size_t *len);
#endif
