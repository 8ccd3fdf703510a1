/* blas.c — loading OpenBLAS at run time with the right kernel (to be filled). */
#include "tl.h"
tl_status tl_blas_load(void) { return tl_error(TL_UNIMPLEMENTED, "BLAS loader not written yet"); }
tl_blas_info tl_blas_get_info(void) { tl_blas_info b = {0}; return b; }
