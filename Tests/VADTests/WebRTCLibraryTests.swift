#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The shim (Sources/CWebRTCVAD/shim.h) declares the WebRTC VAD functions
/// itself, because libwebrtc-audio-processing installs no header for them.
/// If a new version of the library stops exporting them, this says so plainly
/// instead of leaving a link error or a crash to explain it.
struct WebRTCLibraryTests {
    static let functions = ["WebRtcVad_Create", "WebRtcVad_Free", "WebRtcVad_Init", "WebRtcVad_set_mode", "WebRtcVad_Process"]

    @Test func libraryStillExportsTheVADFunctionsTheShimDeclares() throws {
        let names = ["libwebrtc_audio_processing.so.1", "libwebrtc_audio_processing.so"]
        let handle = names.lazy.compactMap { dlopen($0, RTLD_NOW | RTLD_LOCAL) }.first
        let library = try #require(handle, """
            cannot load libwebrtc-audio-processing (\(names.joined(separator: " or "))): \
            \(dlerror().map { String(cString: $0) } ?? "no error text"); install libwebrtc-audio-processing1
            """)
        defer { dlclose(library) }
        for name in Self.functions {
            #expect(dlsym(library, name) != nil, """
                libwebrtc-audio-processing no longer exports \(name) with C linkage; \
                Sources/CWebRTCVAD/shim.h declares it, so vx-vad's WebRTC engine cannot work with this version
                """)
        }
    }
}
