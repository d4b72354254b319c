#include <alsa/asoundlib.h>

// ALSA prints its own diagnostics on stderr through a variadic handler that
// Swift cannot define. vx reports errors itself, one line each, so install a
// silent handler from C.
static void vx_alsa_silent_error(const char *file, int line, const char *function, int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}

static inline void vx_alsa_silence_errors(void) {
    snd_lib_error_set_handler(vx_alsa_silent_error);
}
