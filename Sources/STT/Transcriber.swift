/// A speech-to-text engine. vx-stt drives it from one thread, one utterance at
/// a time: `start`, any number of `feed`s (16 kHz mono signed 16-bit samples),
/// then `finish`. Engines that decode as audio arrives offer partial results.
public protocol Transcriber: AnyObject {
    /// Name for logs and `transcript` events, e.g. "pocketsphinx".
    var name: String { get }
    /// True when `partial()` can return text before `finish()`.
    var supportsPartials: Bool { get }
    /// Begins an utterance. Engine state is reset the same way every time,
    /// so an utterance decodes the same whatever came before it.
    func start() throws
    /// Adds audio to the utterance.
    func feed(_ samples: UnsafeBufferPointer<Int16>) throws
    /// The best hypothesis so far, or nil when there is none (or no partials).
    func partial() -> String?
    /// Ends the utterance and returns its final text ("" for no speech).
    func finish() throws -> String
}
