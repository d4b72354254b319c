import ArgumentParser

/// How pocketsphinx searches an utterance: the time its final transcript takes once the
/// utterance has ended, against the words it gets wrong.
///
/// Both searches decode while the audio arrives; they differ in what is left for the end of
/// the utterance. Measured here (2 cores) on ~3 s utterances, one-pass / two-pass: final
/// 20-40 ms / 150-300 ms after the end is read; word errors 0/42 / 0/42 on the WER test's
/// flite sentences, 32/314 / 27/314 on 40 more (flite kal16 and slt), 27/75 / 24/75 on
/// pocketsphinx-testdata's human recordings (librivox, goforward), 20/75 / 22/75 since the CMN
/// adapts within each utterance; decoding CPU while the user speaks about +30%.
/// `scripts/bench-speech` prints the current figures.
public enum PocketSphinxSearch: String, Sendable, CaseIterable, ExpressibleByArgument {
    /// One tree search, run as the audio arrives, with a wider beam than pocketsphinx's default
    /// (`-beam 1e-60` instead of 1e-48, which wins back over half of what the second pass gains) and
    /// at most 20 word exits a frame (`-maxwpf 20`, which keeps the word lattice small without
    /// costing words here); at the end only that lattice is rescored (best path). The final
    /// comes several times sooner than with `twoPass`; the extra search costs CPU while the
    /// user speaks, off the critical path.
    case onePass = "one-pass"
    /// pocketsphinx's defaults: the tree search as the audio arrives, then a second search with
    /// a flat lexicon over the whole utterance once it has ended, then the lattice rescoring.
    case twoPass = "two-pass"

    /// The pocketsphinx arguments that select this search.
    public var arguments: [String] {
        switch self {
        case .onePass: ["-fwdflat", "no", "-beam", "1e-60", "-maxwpf", "20"]
        case .twoPass: []
        }
    }
}
