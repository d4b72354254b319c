// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "vx",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vx-capture", targets: ["vx-capture"]),
        .executable(name: "vx-play", targets: ["vx-play"]),
        .executable(name: "vx-vad", targets: ["vx-vad"]),
        .executable(name: "vx-stt", targets: ["vx-stt"]),
        .executable(name: "vx-llm", targets: ["vx-llm"]),
        .executable(name: "vx-tts", targets: ["vx-tts"]),
        .executable(name: "vx-chat", targets: ["vx-chat"]),
        .library(name: "VXShared", targets: ["VXShared"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C libraries, one system-library target each.
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CSoxr", pkgConfig: "soxr", providers: [.apt(["libsoxr-dev"])]),
        // No header or usable .pc for the VAD: the shim declares its functions and links the library.
        .systemLibrary(name: "CWebRTCVAD", providers: [.apt(["libwebrtc-audio-processing-dev"])]),
        .systemLibrary(name: "CPocketSphinx", pkgConfig: "pocketsphinx", providers: [.apt(["libpocketsphinx-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // flite has no .pc file: the module map links its libraries and the shim declares the voices.
        .systemLibrary(name: "CFlite", providers: [.apt(["flite1-dev"])]),
        .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),

        // The frame protocol, transports, resilience, logging and process behaviour.
        .target(
            name: "VXShared",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Audio files, devices and sample-rate conversion, wrapping the C libraries.
        .target(name: "VXAudio", dependencies: ["VXShared", "CSndFile", "CALSA", "CSoxr"]),
        .target(name: "Capture", dependencies: ["VXShared", "VXAudio"]),
        .target(name: "Playback", dependencies: ["VXShared", "VXAudio"]),
        // HTTP for remote engines (libcurl): timeouts, streaming, cancel, retry and breaker.
        .target(name: "VXNet", dependencies: ["VXShared", "CCurl", .product(name: "Logging", package: "swift-log")]),
        .target(name: "VAD", dependencies: ["VXShared", "VXAudio", "CWebRTCVAD"]),
        .target(
            name: "STT",
            dependencies: [
                "VXShared", "VXAudio", "VXNet", "CPocketSphinx",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "LLM", dependencies: ["VXShared", "VXNet", .product(name: "Logging", package: "swift-log")]),
        .target(name: "TTS", dependencies: ["VXShared", "VXAudio", "VXNet", "CFlite", "CEspeakNG"]),
        // The supervisor: stages as child processes, sockets, restarts, turn latency, the live screen.
        .target(
            name: "Chat",
            dependencies: ["VXShared", .product(name: "Logging", package: "swift-log"), .product(name: "TOMLKit", package: "TOMLKit")]
        ),

        .executableTarget(
            name: "vx-capture",
            dependencies: ["Capture", "VXShared", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "vx-play",
            dependencies: ["Playback", "VXShared", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        .executableTarget(
            name: "vx-vad",
            dependencies: ["VAD", "VXShared", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "vx-stt",
            dependencies: ["STT", "VXShared", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        .executableTarget(
            name: "vx-llm",
            dependencies: ["LLM", "VXShared", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "vx-tts",
            dependencies: ["TTS", "VXShared", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        .executableTarget(
            name: "vx-chat",
            dependencies: ["Chat", "VXShared", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // Benchmarks (run by scripts/bench).
        .executableTarget(name: "vx-codec-bench", dependencies: ["VXShared"], path: "Benchmarks/CodecBench"),

        .testTarget(
            name: "VXSharedTests",
            dependencies: ["VXShared", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "VXAudioTests", dependencies: ["VXAudio", "VXShared"]),
        .testTarget(name: "PlaybackTests", dependencies: ["Playback", "VXShared"]),
        .testTarget(name: "VXNetTests", dependencies: ["VXNet", "VXShared", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "VADTests", dependencies: ["VAD", "VXShared", "VXAudio", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "STTTests", dependencies: ["STT", "VXShared", "VXAudio", "VXNet", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "LLMTests", dependencies: ["LLM", "VXShared", "VXNet", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "TTSTests", dependencies: ["TTS", "VXShared", "VXAudio", "VXNet", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "ToolTests", dependencies: ["VXShared"]),
        .testTarget(name: "ChatTests", dependencies: ["Chat", "VXShared"]),
    ],
    swiftLanguageModes: [.v6]
)
