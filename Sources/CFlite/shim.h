#include <flite/flite.h>

// flite installs no headers for its voices: declare the registration functions.
cst_voice *register_cmu_us_kal16(const char *voxdir);
cst_voice *register_cmu_us_kal(const char *voxdir);
cst_voice *register_cmu_us_slt(const char *voxdir);
void unregister_cmu_us_kal16(cst_voice *voice);
void unregister_cmu_us_kal(cst_voice *voice);
void unregister_cmu_us_slt(cst_voice *voice);

// The streaming return codes are macros: give Swift typed constants.
static inline int vx_flite_stream_continue(void) { return CST_AUDIO_STREAM_CONT; }
static inline int vx_flite_stream_stop(void) { return CST_AUDIO_STREAM_STOP; }
