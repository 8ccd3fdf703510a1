/* saved_model_format.h — what the saved-model writer (saved_model_write.c)
 * and reader (saved_model.c) share: the constants and tags of the file
 * layout in docs/file-formats.md ("tlua saved model"). */
#ifndef TL_SAVED_MODEL_FORMAT_H
#define TL_SAVED_MODEL_FORMAT_H
#include "graph/graph_internal.h"

#define TLSM_MAGIC "TLSM"
#define TLSM_FORMAT_VERSION 1u
#define TLSM_HEADER_BYTES 20 /* magic, version, body length, crc */
#define TLSM_MAX_DEPTH 16    /* subgraph nesting */
#define TLSM_MAX_NAME 4096   /* names and source locations */
#define TLSM_MAX_NODES (1 << 20)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the saved model is the host's bytes as little-endian; add byte swapping for this host"
#endif

/* Attribute type tags in the file (stable, whatever tl_attr_type's order). */
enum { TLSM_A_INT = 1, TLSM_A_FLOAT = 2, TLSM_A_BOOL = 3, TLSM_A_INTS = 4, TLSM_A_FLOATS = 5, TLSM_A_DTYPE = 6, TLSM_A_STRING = 7 };
static const uint8_t tlg_sm_attr_tag[TL_ATTR_TYPE_COUNT] __attribute__((unused)) = {
    [TL_ATTR_INT] = TLSM_A_INT,     [TL_ATTR_FLOAT] = TLSM_A_FLOAT, [TL_ATTR_BOOL] = TLSM_A_BOOL,    [TL_ATTR_INTS] = TLSM_A_INTS,
    [TL_ATTR_FLOATS] = TLSM_A_FLOATS, [TL_ATTR_DTYPE] = TLSM_A_DTYPE, [TL_ATTR_STRING] = TLSM_A_STRING,
};
/* Node kinds in the file. */
static const uint8_t tlg_sm_kind_tag[TL_NODE_KIND_COUNT] __attribute__((unused)) = {
    [TL_NODE_ARG] = 1, [TL_NODE_CONST] = 2, [TL_NODE_OP] = 3, [TL_NODE_COND] = 4, [TL_NODE_WHILE] = 5, [TL_NODE_CALL] = 6,
};
#define TLSM_SEC_VARS 0x53524156u /* "VARS" */
#define TLSM_SEC_FUNS 0x534e5546u /* "FUNS" */

#endif
