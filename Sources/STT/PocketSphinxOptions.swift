import ArgumentParser

/// vx-stt's options for the pocketsphinx engine.
public struct PocketSphinxOptions: ParsableArguments {
    @Option(help: ArgumentHelp("pocketsphinx acoustic model directory.", valueName: "dir"))
    public var hmm: String = PocketSphinxModel.english.hmm

    @Option(help: ArgumentHelp("pocketsphinx language model (ARPA or binary).", valueName: "file"))
    public var lm: String = PocketSphinxModel.english.lm

    @Option(help: ArgumentHelp("pocketsphinx pronunciation dictionary.", valueName: "file"))
    public var dict: String = PocketSphinxModel.english.dict

    @Flag(name: .customLong("fast-final"), help: ArgumentHelp(
        "Skip pocketsphinx's second search pass when an utterance ends: the transcript comes about 6x sooner after voice-stopped, with more words wrong (WER 16% instead of 10% on flite speech)."))
    public var fastFinal = false

    @Option(name: .customLong("pocketsphinx-log"), help: ArgumentHelp(
        "Write pocketsphinx's own log to this file (it is off otherwise, so stderr keeps one line a record).",
        valueName: "file"))
    public var logFile: String?

    public init() {}

    public var model: PocketSphinxModel { PocketSphinxModel(hmm: hmm, lm: lm, dict: dict) }
}
