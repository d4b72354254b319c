import ArgumentParser

/// vx-stt's options for the pocketsphinx engine.
public struct PocketSphinxOptions: ParsableArguments {
    @Option(help: ArgumentHelp("pocketsphinx acoustic model directory.", valueName: "dir"))
    public var hmm: String = PocketSphinxModel.english.hmm

    @Option(help: ArgumentHelp("pocketsphinx language model (ARPA or binary).", valueName: "file"))
    public var lm: String = PocketSphinxModel.english.lm

    @Option(help: ArgumentHelp("pocketsphinx pronunciation dictionary.", valueName: "file"))
    public var dict: String = PocketSphinxModel.english.dict

    @Option(help: ArgumentHelp(
        "pocketsphinx search: one-pass (one wide-beam search as you speak, its word lattice rescored at the end: the final several times sooner, slightly more words wrong on hard speech) or two-pass (pocketsphinx's defaults: a second search of the whole utterance after it ends).",
        valueName: "search"))
    public var search: PocketSphinxSearch = .onePass

    @Option(name: .customLong("pocketsphinx-log"), help: ArgumentHelp(
        "Write pocketsphinx's own log to this file (it is off otherwise, so stderr keeps one line a record).",
        valueName: "file"))
    public var logFile: String?

    public init() {}

    public var model: PocketSphinxModel { PocketSphinxModel(hmm: hmm, lm: lm, dict: dict) }
}
