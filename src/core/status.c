/* status.c — status codes and the thread-local error message.
 *
 * The core reports failure by returning a tl_status and leaving a message
 * here (like sqlite3_errmsg). The message is per thread, so pool workers and
 * queue threads never clobber the caller's message.
 */
#include "tl.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* ORDER STATUS */
static const char *const status_names[] = {
    "OK",           "InvalidArgument",  "OutOfRange", "FailedPrecondition",
    "NotFound",     "ResourceExhausted", "Unimplemented", "Cancelled",
    "DeadlineExceeded", "Internal", "DataLoss",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == TL_STATUS_COUNT,
               "status_names must follow tl_status");

static _Thread_local char err_buf[2048];
static _Thread_local tl_status err_kind;

const char *tl_status_name(tl_status s) {
  return (s >= 0 && s < TL_STATUS_COUNT) ? status_names[s] : "Unknown";
}

tl_status tl_error(tl_status kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err_buf, sizeof err_buf, fmt, ap);
  va_end(ap);
  err_kind = kind;
  return kind;
}

void tl_error_prefix(const char *fmt, ...) {
  char prefix[512], old[sizeof err_buf];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  size_t pl = strlen(prefix);
  if (strncmp(err_buf, prefix, pl) == 0) return; /* already said */
  memcpy(old, err_buf, sizeof old);
  size_t room = sizeof err_buf - 1;
  if (pl > room) pl = room;
  memcpy(err_buf, prefix, pl);
  size_t ol = strnlen(old, room - pl);
  memcpy(err_buf + pl, old, ol);
  err_buf[pl + ol] = 0;
}

const char *tl_last_error(void) { return err_buf; }
tl_status tl_last_status(void) { return err_kind; }
void tl_clear_error(void) {
  err_buf[0] = 0;
  err_kind = TL_OK;
}

static atomic_int interrupt_flag;
void tl_request_interrupt(void) { atomic_store(&interrupt_flag, 1); }
bool tl_interrupt_pending(void) { return atomic_load_explicit(&interrupt_flag, memory_order_relaxed) != 0; }
bool tl_interrupted(void) {
  if (!atomic_load_explicit(&interrupt_flag, memory_order_relaxed)) return false;
  return atomic_exchange(&interrupt_flag, 0) != 0;
}
