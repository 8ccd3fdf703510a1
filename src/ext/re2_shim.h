/* ext/re2_shim.h — the C interface to RE2 (re2_shim.cc), the regular
 * expression engine TensorFlow uses: linear time, no catastrophic
 * backtracking, RE2 syntax. Patterns and texts are byte strings with a
 * length (NULs allowed). The compiled object is immutable and may be used
 * from several threads at once. */
#ifndef TL_EXT_RE2_SHIM_H
#define TL_EXT_RE2_SHIM_H
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_re2 tl_re2;
/* NULL with RE2's message in err when the pattern does not compile. */
tl_re2 *tl_re2_new(const char *pattern, size_t len, char *err, size_t errlen);
void tl_re2_free(tl_re2 *re);
bool tl_re2_full_match(const tl_re2 *re, const char *s, size_t n);
bool tl_re2_partial_match(const tl_re2 *re, const char *s, size_t n);
/* Checks a rewrite string (\0..\9 must name existing groups). */
bool tl_re2_check_rewrite(const tl_re2 *re, const char *rewrite, char *err, size_t errlen);
/* Replaces the first (or every, when global) match in s by rewrite; the
 * result is in a per-thread buffer valid until the thread's next call. A
 * string without a match comes back as s itself. Returns false when out
 * of memory. */
bool tl_re2_replace(const tl_re2 *re, const char *s, size_t n, const char *rewrite, bool global,
                    const char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
