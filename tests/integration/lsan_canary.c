// LeakSanitizer canary for sanitize.sh: LD_PRELOADed into a sanitized server, it leaks one block
// on purpose when the process starts. The server is then stopped with SIGTERM, and LeakSanitizer
// must report this block at exit; if it does not, leak checking is not running (a process that
// does not exit through main, options that disable it), and every "no leak" of the run is void.
#include <stdlib.h>

__attribute__((constructor)) static void webim_lsan_canary(void) {
  volatile char *block = malloc(4242);
  block[0] = 1;
  block = 0;  // the only pointer to it is gone
}
