#if canImport(Glibc)
import Glibc
#endif
import VXShared

/// The files of a PocketSphinx model: acoustic model directory, language
/// model and pronunciation dictionary. Defaults to Debian's pocketsphinx-en-us.
public struct PocketSphinxModel: Sendable, Equatable {
    public static let directory = "/usr/share/pocketsphinx/model/en-us"
    public static let english = PocketSphinxModel(
        hmm: "\(directory)/en-us", lm: "\(directory)/en-us.lm.bin", dict: "\(directory)/cmudict-en-us.dict")

    /// Files an acoustic model directory must hold for pocketsphinx to load it.
    static let acousticFiles = ["mdef", "means", "variances", "transition_matrices"]

    public var hmm: String
    public var lm: String
    public var dict: String

    public init(hmm: String, lm: String, dict: String) {
        self.hmm = hmm
        self.lm = lm
        self.dict = dict
    }

    /// Checks that every file is there and readable, so a bad path is reported
    /// by name instead of as a pocketsphinx failure.
    public func check() throws(STTError) {
        var info = stat()
        guard stat(hmm, &info) == 0 else { throw .missingModelFile(path: hmm, role: "acoustic model directory (--hmm)") }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw .missingModelFile(path: hmm, role: "acoustic model directory (--hmm); it is not a directory")
        }
        for name in Self.acousticFiles {
            let path = "\(hmm)/\(name)"
            guard access(path, R_OK) == 0 else { throw .missingModelFile(path: path, role: "acoustic model file") }
        }
        guard access(lm, R_OK) == 0 else { throw .missingModelFile(path: lm, role: "language model (--lm)") }
        guard access(dict, R_OK) == 0 else { throw .missingModelFile(path: dict, role: "pronunciation dictionary (--dict)") }
    }
}
