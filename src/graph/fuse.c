/* fuse.c — element-wise fusion (not written yet: the pass changes nothing). */
#include "graph/graph_internal.h"

tl_status tlg_fuse(tl_graph *g) {
  (void)g;
  return TL_OK;
}
