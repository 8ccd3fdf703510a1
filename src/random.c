/* random.c — Philox streams (to be filled). */
#include "tl.h"
