/* grad_temps.c — temporaries for gradient rules (see grad_temps.h). */
#include "autodiff/grad_temps.h"

tl_tensor *tl_temps_keep(tl_temps *T, tl_tensor *t) {
  if (T->n == (int)(sizeof T->t / sizeof T->t[0])) {
    tl_tensor_release(t);
    tl_error(TL_INTERNAL, "internal: a gradient rule needs more temporaries");
    return NULL;
  }
  T->t[T->n++] = t;
  return t;
}

void tl_temps_free(tl_temps *T) {
  for (int i = 0; i < T->n; i++) tl_tensor_release(T->t[i]);
  T->n = 0;
}

tl_tensor *tl_temps_op1(tl_temps *T, const char *name, tl_tensor *a, int na, const tl_named_attr *attrs) {
  tl_tensor *o;
  if (!a || tl_call(name, 1, &a, na, attrs, &o)) return NULL;
  return tl_temps_keep(T, o);
}

tl_tensor *tl_temps_op2(tl_temps *T, const char *name, tl_tensor *a, tl_tensor *b) {
  tl_tensor *o, *in[2] = {a, b};
  if (!a || !b || tl_call(name, 2, in, 0, NULL, &o)) return NULL;
  return tl_temps_keep(T, o);
}

tl_tensor *tl_temps_scalar(tl_temps *T, const tl_tensor *like, tl_dtype dt, double v) {
  tl_tensor *o;
  if (tl_tensor_scalar_like(like, dt, v, &o)) return NULL;
  return tl_temps_keep(T, o);
}

tl_tensor *tl_temps_cast(tl_temps *T, tl_tensor *a, tl_dtype dt) {
  return tl_temps_op1(T, "cast", a, 1, (tl_named_attr[]){TL_A_DTYPE("dtype", dt)});
}

tl_status tl_temps_give(tl_temps *T, tl_tensor *res, tl_tensor **gin, bool last) {
  tl_status s = TL_OK;
  if (!res) {
    s = tl_last_status();
    if (!s) s = tl_error(TL_INTERNAL, "internal: gradient failed without a message");
  } else {
    *gin = tl_tensor_retain(res);
  }
  if (last || s) tl_temps_free(T);
  return s;
}
