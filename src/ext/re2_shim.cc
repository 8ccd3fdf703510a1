// ext/re2_shim.cc — RE2 behind a C interface (ext/re2_shim.h), so the
// core stays C. The only C++ in tlua. Exceptions never cross the
// interface: allocation failures are caught and reported as false/NULL.
#include "ext/re2_shim.h"

#include <re2/re2.h>

#include <cstdio>
#include <new>
#include <string>

struct tl_re2 {
  re2::RE2 re;
  explicit tl_re2(const re2::StringPiece &p, const re2::RE2::Options &o) : re(p, o) {}
};

extern "C" tl_re2 *tl_re2_new(const char *pattern, size_t len, char *err, size_t errlen) {
  try {
    re2::RE2::Options o;
    o.set_log_errors(false);
    tl_re2 *r = new tl_re2(re2::StringPiece(pattern, len), o);
    if (!r->re.ok()) {
      std::snprintf(err, errlen, "%s", r->re.error().c_str());
      delete r;
      return nullptr;
    }
    return r;
  } catch (...) {
    std::snprintf(err, errlen, "out of memory compiling the pattern");
    return nullptr;
  }
}

extern "C" void tl_re2_free(tl_re2 *re) { delete re; }

extern "C" bool tl_re2_full_match(const tl_re2 *re, const char *s, size_t n) {
  return re2::RE2::FullMatch(re2::StringPiece(s, n), re->re);
}

extern "C" bool tl_re2_partial_match(const tl_re2 *re, const char *s, size_t n) {
  return re2::RE2::PartialMatch(re2::StringPiece(s, n), re->re);
}

extern "C" bool tl_re2_check_rewrite(const tl_re2 *re, const char *rewrite, char *err, size_t errlen) {
  std::string e;
  if (re->re.CheckRewriteString(rewrite, &e)) return true;
  std::snprintf(err, errlen, "%s", e.c_str());
  return false;
}

// GlobalReplace's loop without its copies: matches are found with the same
// Match calls from the same positions (so ^, \b and friends see the same
// context) and the result is built once in a per-thread buffer. A string
// where the pattern matches empty goes to RE2's own GlobalReplace, whose
// rules for advancing past empty matches are the reference.
extern "C" bool tl_re2_replace(const tl_re2 *re, const char *s, size_t n, const char *rewrite, bool global,
                               const char **out, size_t *out_len) {
  static thread_local std::string buf;
  try {
    re2::StringPiece text(s, n), rw(rewrite), vec[10];
    int nvec = 1 + re2::RE2::MaxSubmatch(rw);
    bool any = false;
    size_t p = 0;
    if (nvec <= 10) {
      buf.clear();
      while (p <= n && re->re.Match(text, p, n, re2::RE2::UNANCHORED, vec, nvec)) {
        if (vec[0].empty()) goto slow;
        size_t ms = (size_t)(vec[0].data() - s);
        buf.append(s + p, ms - p);
        re->re.Rewrite(&buf, rw, vec, nvec);
        p = ms + vec[0].size();
        any = true;
        if (!global) break;
      }
      if (!any) {
        *out = s;
        *out_len = n;
        return true;
      }
      buf.append(s + p, n - p);
      *out = buf.data();
      *out_len = buf.size();
      return true;
    }
  slow:
    buf.assign(s, n);
    bool changed = global ? re2::RE2::GlobalReplace(&buf, re->re, rw) > 0 : re2::RE2::Replace(&buf, re->re, rw);
    if (!changed) {
      *out = s;
      *out_len = n;
      return true;
    }
    *out = buf.data();
    *out_len = buf.size();
    return true;
  } catch (...) {
    return false;
  }
}
