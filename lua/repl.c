/* repl.c — terminal glue for the tlua program: module `tlua.readline`.
 *
 * The REPL loop itself is Lua (stdlib/tlua/repl.lua); this file gives it
 * what only C can: GNU readline (line editing, history file, tab completion
 * that calls back into a Lua completer) and Ctrl-C handling in the style of
 * lua.c. Only the `tlua` executable links it (package.preload), so a plain
 * lua5.4 never needs readline.
 *
 * Ctrl-C has two meanings:
 * - at the prompt, readline runs in callback mode over select(); a SIGINT
 *   makes select return EINTR, the line is dropped, and readline() returns
 *   false so the caller can also drop a pending multi-line chunk;
 * - while code runs under rl.pcall, the SIGINT handler sets a count hook that
 *   raises "interrupted" at the next Lua instruction (lua.c's laction/lstop)
 *   and asks the core to cancel (tl_request_interrupt: the op dispatcher then
 *   returns Cancelled). A second Ctrl-C before the hook fires kills the
 *   process, as in lua.c, for a kernel that never returns.
 *
 * Not thread-aware: one REPL per process, on the main Lua thread.
 */
#include <lauxlib.h>
#include <lua.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "../src/tl.h"

int luaopen_tlua_readline(lua_State *L);

/* The error value the count hook raises; repl.lua compares against it. */
#define INTERRUPTED_MSG "interrupted"

/* ---- running code with Ctrl-C ------------------------------------------ */

static lua_State *volatile running_L;

static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  tl_interrupted(); /* the op dispatcher has nothing left to cancel */
  lua_pushliteral(L, INTERRUPTED_MSG);
  lua_error(L);
}

static void laction(int sig) {
  int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
  signal(sig, SIG_DFL); /* a second Ctrl-C ends the process */
  tl_request_interrupt();
  if (running_L) lua_sethook(running_L, lstop, flag, 1);
}

/* rl.pcall(handler, f, ...) -> like xpcall, with Ctrl-C interrupting f. */
static int l_pcall(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  luaL_checkany(L, 2);
  int nargs = lua_gettop(L) - 2;
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = laction;
  sigemptyset(&sa.sa_mask);
  lua_State *prev = running_L;
  running_L = L;
  sigaction(SIGINT, &sa, &old);
  int status = lua_pcall(L, nargs, LUA_MULTRET, 1);
  sigaction(SIGINT, &old, NULL);
  running_L = prev;
  /* Whatever raised the error, leave no hook and no pending cancel behind. */
  lua_sethook(L, NULL, 0, 0);
  tl_interrupted();
  lua_pushboolean(L, status == LUA_OK);
  lua_replace(L, 1); /* handler slot: results follow it */
  return lua_gettop(L);
}

/* ---- line input ---------------------------------------------------------- */

static volatile sig_atomic_t prompt_sigint;
static char *line_result;
static int line_done;

static void on_prompt_sigint(int sig) {
  (void)sig;
  prompt_sigint = 1;
}

static void on_line(char *line) {
  line_result = line;
  line_done = 1;
  rl_callback_handler_remove();
}

/* Completion calls back into Lua: the state and completer live here while
 * readline() runs (completion only happens inside it). */
static lua_State *complete_L;
static int completer_ref = LUA_NOREF;
static char **cands;
static size_t n_cands, next_cand;

static void free_cands(void) {
  for (size_t i = next_cand; i < n_cands; i++) free(cands[i]);
  free(cands);
  cands = NULL;
  n_cands = next_cand = 0;
}

static char *cand_generator(const char *text, int state) {
  (void)text;
  (void)state;
  if (next_cand < n_cands) return cands[next_cand++]; /* readline frees it */
  return NULL;
}

static int call_completer(lua_State *L) {
  const char *text = lua_tostring(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, completer_ref);
  lua_pushstring(L, text);
  lua_pushstring(L, rl_line_buffer);
  lua_call(L, 2, 1);
  return 1;
}

static char **attempt_completion(const char *text, int start, int end) {
  (void)start;
  (void)end;
  rl_attempted_completion_over = 1; /* never fall back to file names */
  rl_completion_append_character = '\0'; /* readline resets it per attempt */
  lua_State *L = complete_L;
  if (!L || completer_ref == LUA_NOREF) return NULL;
  free_cands();
  int top = lua_gettop(L);
  lua_pushcfunction(L, call_completer);
  lua_pushstring(L, text);
  /* pcall: an error must not longjmp through readline's frames */
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
    size_t n = (size_t)lua_rawlen(L, -1);
    cands = calloc(n ? n : 1, sizeof *cands);
    for (size_t i = 0; cands && i < n; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i + 1);
      const char *s = lua_tostring(L, -1);
      if (s) cands[n_cands++] = strdup(s);
      lua_pop(L, 1);
    }
  }
  lua_settop(L, top);
  if (n_cands == 0) return NULL;
  return rl_completion_matches(text, cand_generator);
}

/* rl.readline(prompt) -> line | nil (end of input) | false (Ctrl-C) */
static int l_readline(lua_State *L) {
  const char *prompt = luaL_checkstring(L, 1);
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_prompt_sigint; /* no SA_RESTART: select returns EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  prompt_sigint = 0;
  line_done = 0;
  line_result = NULL;
  complete_L = L;
  int interrupted = 0;
  int fd = fileno(rl_instream ? rl_instream : stdin);
  /* SIGINT stays blocked except inside pselect, so a Ctrl-C that arrives
   * while readline handles a key is seen at the next wait, not lost. */
  sigset_t block, orig, waitmask;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &orig);
  waitmask = orig;
  sigdelset(&waitmask, SIGINT);
  rl_callback_handler_install(prompt, on_line);
  while (!line_done) {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(fd, &fds);
    int r = prompt_sigint ? -1 : pselect(fd + 1, &fds, NULL, NULL, NULL, &waitmask);
    if (r < 0 && (prompt_sigint || errno == EINTR)) {
      if (!prompt_sigint) continue;
      prompt_sigint = 0;
      rl_echo_signal_char(SIGINT);
      rl_free_line_state();
      rl_callback_sigcleanup();
      rl_cleanup_after_signal();
      rl_callback_handler_remove();
      fputc('\n', rl_outstream ? rl_outstream : stdout);
      interrupted = 1;
      break;
    }
    if (r < 0) { /* unexpected: treat as end of input */
      rl_callback_handler_remove();
      break;
    }
    rl_callback_read_char();
  }
  sigprocmask(SIG_SETMASK, &orig, NULL);
  complete_L = NULL;
  sigaction(SIGINT, &old, NULL);
  if (interrupted) {
    lua_pushboolean(L, 0);
  } else if (line_result) {
    lua_pushstring(L, line_result);
    free(line_result);
  } else {
    lua_pushnil(L);
  }
  line_result = NULL;
  return 1;
}

/* rl.set_completer(fn): fn(text, line) -> list of full replacements for text */
static int l_set_completer(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  luaL_unref(L, LUA_REGISTRYINDEX, completer_ref);
  lua_pushvalue(L, 1);
  completer_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

/* ---- history ------------------------------------------------------------ */

static char *history_path;
static int history_max = 1000;

/* rl.history_init(path, max): loads the file; later lines append to it. */
static int l_history_init(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  history_max = (int)luaL_optinteger(L, 2, 1000);
  if (history_max < 1) history_max = 1;
  free(history_path);
  history_path = strdup(path);
  using_history();
  stifle_history(history_max);
  read_history(history_path); /* a missing file is fine */
  return 0;
}

/* rl.history_add(line): skips blanks and repeats of the previous line. */
static int l_history_add(lua_State *L) {
  const char *line = luaL_checkstring(L, 1);
  if (line[strspn(line, " \t\r\n")] == '\0') return 0;
  HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
  if (last && strcmp(last->line, line) == 0) return 0;
  add_history(line);
  if (history_path) {
    if (access(history_path, F_OK) != 0) {
      FILE *f = fopen(history_path, "a"); /* append_history needs the file */
      if (f) fclose(f);
    }
    append_history(1, history_path);
    history_truncate_file(history_path, history_max);
  }
  return 0;
}

static int l_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_optinteger(L, 1, 0)));
  return 1;
}

static const luaL_Reg funcs[] = {
    {"readline", l_readline},         {"set_completer", l_set_completer},
    {"history_init", l_history_init}, {"history_add", l_history_add},
    {"pcall", l_pcall},               {"isatty", l_isatty},
    {NULL, NULL},
};

int luaopen_tlua_readline(lua_State *L) {
  rl_readline_name = "tlua";
  rl_catch_signals = 0; /* SIGINT is ours (see l_readline) */
  rl_attempted_completion_function = attempt_completion;
  /* '.' and ':' are not breaks, so "tf.math.re" and "x:resh" reach the
   * completer whole. */
  rl_completer_word_break_characters = (char *)" \t\n\"\\'`@$><=;|&{}()[],+-*/%^~#";
  rl_completion_append_character = '\0';
  /* One Tab lists the candidates when it cannot add more (~/.inputrc,
   * read later by readline, may say otherwise). */
  rl_variable_bind("show-all-if-ambiguous", "on");
  luaL_newlib(L, funcs);
  lua_pushliteral(L, INTERRUPTED_MSG);
  lua_setfield(L, -2, "INTERRUPTED");
  return 1;
}
