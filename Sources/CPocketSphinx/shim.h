// CMU PocketSphinx 0.8+5prealpha (Debian 12) and the parts of SphinxBase vx uses.
//
// Swift cannot call the variadic cmd_ln_init, so the configuration is built
// with cmd_ln_parse_r from an argv array. The accessors below reach the live
// cepstral-mean state through the decoder's feature module, so each
// utterance can start from the same CMN vector.
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/cmn.h>

/// The decoder's live cepstral mean normalisation state.
static inline cmn_t *vx_ps_cmn(ps_decoder_t *ps) {
    feat_t *feat = ps_get_feat(ps);
    return feat ? feat->cmn_struct : 0;
}

/// Length of the cepstral vector the CMN state holds.
static inline int vx_ps_cmn_length(ps_decoder_t *ps) {
    cmn_t *cmn = vx_ps_cmn(ps);
    return cmn ? cmn->veclen : 0;
}

/// Starts the live CMN from `vec` counted as the mean of `frames` frames: each
/// cmn_live_update() then moves the mean toward the audio decoded since, the
/// faster the fewer the frames (cmn_live_set counts it as 500).
static inline void vx_ps_cmn_start(ps_decoder_t *ps, mfcc_t const *vec, int frames) {
    cmn_t *cmn = vx_ps_cmn(ps);
    if (!cmn) return;
    for (int i = 0; i < cmn->veclen; i++) {
        cmn->cmn_mean[i] = vec[i];
        cmn->sum[i] = vec[i] * frames;
    }
    cmn->nframe = frames;
}
