/* dtype.c — the dtype table and cold-path element conversions.
 *
 * One table (name, size, kind) drives dispatch everywhere. Kernels never
 * call the tl_load/tl_store helpers here; they are for printing, Lua
 * conversion and scalar attributes. float16/bfloat16 are storage types:
 * they convert exactly through float.
 */
#include "tl.h"

#include <math.h>
#include <string.h>

/* ORDER DTYPES */
const tl_dtype_info tl_dtypes[TL_DTYPE_COUNT] = {
    [TL_FLOAT32] = {"float32", 4, TL_KIND_FLOAT, true},
    [TL_FLOAT64] = {"float64", 8, TL_KIND_FLOAT, true},
    [TL_FLOAT16] = {"float16", 2, TL_KIND_FLOAT, false},
    [TL_BFLOAT16] = {"bfloat16", 2, TL_KIND_FLOAT, false},
    [TL_INT8] = {"int8", 1, TL_KIND_INT, true},
    [TL_UINT8] = {"uint8", 1, TL_KIND_UINT, true},
    [TL_INT16] = {"int16", 2, TL_KIND_INT, true},
    [TL_INT32] = {"int32", 4, TL_KIND_INT, true},
    [TL_INT64] = {"int64", 8, TL_KIND_INT, true},
    [TL_BOOL] = {"bool", 1, TL_KIND_BOOL, true},
    [TL_COMPLEX64] = {"complex64", 8, TL_KIND_COMPLEX, false},
    [TL_STRING] = {"string", sizeof(tl_string), TL_KIND_STRING, false},
    [TL_RESOURCE] = {"resource", sizeof(void *), TL_KIND_RESOURCE, false},
};
_Static_assert(sizeof(tl_dtypes) / sizeof(tl_dtypes[0]) == TL_DTYPE_COUNT, "dtype table");

tl_dtype tl_dtype_from_name(const char *name) {
  if (!name) return TL_DTYPE_COUNT;
  for (int i = 0; i < TL_DTYPE_COUNT; i++)
    if (strcmp(tl_dtypes[i].name, name) == 0) return (tl_dtype)i;
  if (strcmp(name, "half") == 0) return TL_FLOAT16;
  if (strcmp(name, "double") == 0) return TL_FLOAT64;
  if (strcmp(name, "float") == 0) return TL_FLOAT32;
  return TL_DTYPE_COUNT;
}

float tl_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: renormalise */
      int e = -1;
      do { e++; man <<= 1; } while (!(man & 0x400));
      bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | man << 13;
  } else {
    bits = sign | (exp + 112) << 23 | man << 13;
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t tl_float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
  uint32_t man = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    man |= 0x800000;
    uint32_t shift = (uint32_t)(14 - exp);
    uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | (uint32_t)exp << 10 | man >> 13, rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
  return (uint16_t)half;
}

float tl_bf16_to_float(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t tl_float_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

double tl_load_f64(const void *base, tl_dtype d, int64_t i) {
  switch (d) {
  case TL_FLOAT32: return ((const float *)base)[i];
  case TL_FLOAT64: return ((const double *)base)[i];
  case TL_FLOAT16: return tl_half_to_float(((const uint16_t *)base)[i]);
  case TL_BFLOAT16: return tl_bf16_to_float(((const uint16_t *)base)[i]);
  case TL_INT8: return ((const int8_t *)base)[i];
  case TL_UINT8: return ((const uint8_t *)base)[i];
  case TL_INT16: return ((const int16_t *)base)[i];
  case TL_INT32: return ((const int32_t *)base)[i];
  case TL_INT64: return (double)((const int64_t *)base)[i];
  case TL_BOOL: return ((const uint8_t *)base)[i] != 0;
  case TL_COMPLEX64: return ((const float *)base)[2 * i];
  default: return NAN;
  }
}

int64_t tl_load_i64(const void *base, tl_dtype d, int64_t i) {
  switch (d) {
  case TL_INT8: return ((const int8_t *)base)[i];
  case TL_UINT8: return ((const uint8_t *)base)[i];
  case TL_INT16: return ((const int16_t *)base)[i];
  case TL_INT32: return ((const int32_t *)base)[i];
  case TL_INT64: return ((const int64_t *)base)[i];
  case TL_BOOL: return ((const uint8_t *)base)[i] != 0;
  default: {
    double v = tl_load_f64(base, d, i);
    if (isnan(v)) return 0;
    if (v >= 9.2233720368547758e18) return INT64_MAX;
    if (v <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)v;
  }
  }
}

void tl_store_f64(void *base, tl_dtype d, int64_t i, double v) {
  switch (d) {
  case TL_FLOAT32: ((float *)base)[i] = (float)v; break;
  case TL_FLOAT64: ((double *)base)[i] = v; break;
  case TL_FLOAT16: ((uint16_t *)base)[i] = tl_float_to_half((float)v); break;
  case TL_BFLOAT16: ((uint16_t *)base)[i] = tl_float_to_bf16((float)v); break;
  case TL_BOOL: ((uint8_t *)base)[i] = v != 0; break;
  case TL_COMPLEX64: ((float *)base)[2 * i] = (float)v; ((float *)base)[2 * i + 1] = 0; break;
  default: {
    int64_t iv;
    if (isnan(v)) iv = 0;
    else if (v >= 9.2233720368547758e18) iv = INT64_MAX;
    else if (v <= -9.2233720368547758e18) iv = INT64_MIN;
    else iv = (int64_t)v;
    tl_store_i64(base, d, i, iv);
  }
  }
}

void tl_store_i64(void *base, tl_dtype d, int64_t i, int64_t v) {
  switch (d) {
  case TL_INT8: ((int8_t *)base)[i] = (int8_t)v; break;
  case TL_UINT8: ((uint8_t *)base)[i] = (uint8_t)v; break;
  case TL_INT16: ((int16_t *)base)[i] = (int16_t)v; break;
  case TL_INT32: ((int32_t *)base)[i] = (int32_t)v; break;
  case TL_INT64: ((int64_t *)base)[i] = v; break;
  case TL_BOOL: ((uint8_t *)base)[i] = v != 0; break;
  default: tl_store_f64(base, d, i, (double)v); break;
  }
}
