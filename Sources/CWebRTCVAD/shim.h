// WebRTC's voice activity detector, as exported with C linkage by Debian's
// libwebrtc-audio-processing (0.3). The library installs no header for it,
// so the five functions vx uses are declared here; VADTests checks that the
// library still exports them.
#include <stddef.h>
#include <stdint.h>

typedef struct WebRtcVadInst VadInst;

VadInst *WebRtcVad_Create(void);
void WebRtcVad_Free(VadInst *handle);
int WebRtcVad_Init(VadInst *handle);
int WebRtcVad_set_mode(VadInst *handle, int mode);
int WebRtcVad_Process(VadInst *handle, int fs, const int16_t *audio_frame, size_t frame_length);
