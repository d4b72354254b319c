// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "vx",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vx-capture", targets: ["vx-capture"]),
        .executable(name: "vx-play", targets: ["vx-play"]),
        .library(name: "VXShared", targets: ["VXShared"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries, one system-library target each.
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CSoxr", pkgConfig: "soxr", providers: [.apt(["libsoxr-dev"])]),

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

        .executableTarget(
            name: "vx-capture",
            dependencies: ["Capture", "VXShared", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "vx-play",
            dependencies: ["Playback", "VXShared", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // Benchmarks (run by scripts/bench).
        .executableTarget(name: "vx-codec-bench", dependencies: ["VXShared"], path: "Benchmarks/CodecBench"),

        .testTarget(
            name: "VXSharedTests",
            dependencies: ["VXShared", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "VXAudioTests", dependencies: ["VXAudio", "VXShared"]),
        .testTarget(name: "PlaybackTests", dependencies: ["Playback", "VXShared"]),
        .testTarget(name: "ToolTests", dependencies: ["VXShared"]),
    ],
    swiftLanguageModes: [.v6]
)
