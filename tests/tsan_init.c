/* tsan_init.c — preloaded after libtsan in TLUA_TSAN test runs (lua5.4 and
 * the shells the specs start are not instrumented, so the runtime comes in
 * through LD_PRELOAD). Preloaded alone, libtsan initialises at its first
 * intercepted call; a program whose first such call is setjmp (dash, bash)
 * jumps through a still-empty pointer and crashes. This constructor
 * initialises the runtime before any program code runs. */
void __tsan_init(void);

__attribute__((constructor)) static void tlua_tsan_init(void) { __tsan_init(); }
