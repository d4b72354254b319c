import ArgumentParser

/// How pocketsphinx searches an utterance: the time its final transcript takes once the
/// utterance has ended, against the words it gets wrong.
///
/// Measured on flite sentences (the WER test's six, and 40 more in two voices) and on
/// pocketsphinx-testdata's human recordings; see `scripts/bench-speech` for the figures on
/// this machine. Both searches decode while the audio arrives; they differ in what is left
/// for the end of the utterance.
public enum PocketSphinxSearch: String, Sendable, CaseIterable, ExpressibleByArgument {
    /// One tree search, with wider beams than pocketsphinx's defaults, run as the audio arrives;
    /// at the end only its word lattice is rescored (best path). The final comes about 3x sooner
    /// than with `twoPass` for about the same word error rate; the search costs more CPU while
    /// the user speaks, where it is off the critical path.
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
