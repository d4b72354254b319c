import Foundation
import Testing
@testable import VAD

/// The engines on signals whose answer is known.
struct VoiceEngineTests {
    static func sine(_ frequency: Double, amplitude: Double, frames: Int, rate: Double = 16_000) -> [Int16] {
        (0..<frames * 160).map { Int16((amplitude * 32767 * sin(2 * Double.pi * frequency * Double($0) / rate)).rounded()) }
    }

    static func noise(amplitude: Double, frames: Int, seed: UInt64 = 1) -> [Int16] {
        var random = SplitMix(seed: seed)
        return (0..<frames * 160).map { _ in Int16(Double(Int64(random.next() % 65_536) - 32_768) * amplitude) }
    }

    static func verdicts(_ engine: any VoiceActivityEngine, _ samples: [Int16]) throws -> [FrameVerdict] {
        try samples.withUnsafeBufferPointer { all in
            try stride(from: 0, to: all.count - 159, by: 160).map { try engine.classify(UnsafeBufferPointer(rebasing: all[$0..<$0 + 160])) }
        }
    }

    /// Speech made with flite at 16 kHz, as raw samples.
    static func speech(_ text: String) throws -> [Int16] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vx-vad-engine-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let wav = dir.appendingPathComponent("speech.wav").path, raw = dir.appendingPathComponent("speech.raw").path
        for argv in [["flite", "-voice", "kal16", "-t", text, "-o", wav], ["sox", wav, "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", raw]] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = argv
            try process.run()
            process.waitUntilExit()
            try #require(process.terminationStatus == 0, "\(argv.joined(separator: " ")) failed")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: raw))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
    }

    @Test func webRTCHearsSpeechAndNotDigitalSilence() throws {
        let engine = try WebRTCVoiceEngine(aggressiveness: 3)
        let silence = try Self.verdicts(engine, [Int16](repeating: 0, count: 160 * 100))
        #expect(silence.allSatisfy { $0 == .silence })
        let speech = try Self.verdicts(engine, try Self.speech("Please turn on the lights in the kitchen."))
        let share = Double(speech.filter { $0 == .speech }.count) / Double(speech.count)
        #expect(share > 0.5, "WebRTC called \(Int(share * 100))% of a sentence speech")
    }

    @Test(arguments: [-1, 4])
    func webRTCRefusesAnAggressivenessOutsideZeroToThree(aggressiveness: Int) {
        #expect(throws: EngineError.self) { try WebRTCVoiceEngine(aggressiveness: aggressiveness) }
    }

    @Test func webRTCHangoverIsLongerInTheGentlerModes() throws {
        #expect(try WebRTCVoiceEngine(aggressiveness: 3).hangover == 90_000_000)
        #expect(try WebRTCVoiceEngine(aggressiveness: 0).hangover == 140_000_000)
    }

    @Test func levelGateTurnsSteadyLoudSoundsFaint() throws {
        // Mains hum with its odd harmonics looks like a voiced vowel to WebRTC, however long it lasts.
        let hum = zip(zip(Self.sine(50, amplitude: 0.1, frames: 300), Self.sine(150, amplitude: 0.033, frames: 300)),
                      Self.sine(250, amplitude: 0.02, frames: 300)).map { $0.0 &+ $0.1 &+ $1 }
        let ungated = try Self.verdicts(try WebRTCVoiceEngine(aggressiveness: 3, levelGate: 0), hum)
        let gated = try Self.verdicts(try WebRTCVoiceEngine(aggressiveness: 3, levelGate: 12), hum)
        #expect(ungated.suffix(200).filter { $0 == .speech }.count > 150, "WebRTC no longer calls this hum speech; the gate test proves nothing")
        #expect(gated.suffix(200).allSatisfy { $0 != .speech })
    }

    @Test func energyEngineFollowsLoudnessAgainstTheNoiseFloor() throws {
        let engine = EnergyVoiceEngine()
        let quiet = Self.noise(amplitude: 0.003, frames: 100)   // about -55 dBFS
        let loud = Self.noise(amplitude: 0.1, frames: 30)       // about -25 dBFS
        let verdicts = try Self.verdicts(engine, quiet + loud + quiet)
        #expect(verdicts[0..<100].allSatisfy { $0 == .silence })
        #expect(verdicts[100..<130].allSatisfy { $0 == .speech })
        #expect(verdicts[131...].allSatisfy { $0 == .silence })
        #expect(try Self.verdicts(EnergyVoiceEngine(), [Int16](repeating: 0, count: 16_000)).allSatisfy { $0 == .silence })
    }

    @Test func energyEngineLearnsASteadyNoiseWithinTwoSeconds() throws {
        let engine = EnergyVoiceEngine()
        let verdicts = try Self.verdicts(engine, [Int16](repeating: 0, count: 16_000) + Self.noise(amplitude: 0.1, frames: 400))
        #expect(verdicts[100..<110].allSatisfy { $0 == .speech })   // a new loud sound is speech at first,
        #expect(verdicts[350...].allSatisfy { $0 == .silence })     // until it has been the floor for a window
    }

    @Test func levelOfFullScaleSineIsMinusThreeDecibels() {
        let sine = Self.sine(1000, amplitude: 1, frames: 1)
        let level = sine.withUnsafeBufferPointer { frameLevel($0) }
        #expect(abs(level - -3.01) < 0.05)
        #expect([Int16](repeating: 0, count: 160).withUnsafeBufferPointer { frameLevel($0) } == -120)
    }

    @Test func noiseFloorIsTheQuietestRecentLevel() {
        var floor = NoiseFloor(window: 200, blocks: 8)
        for i in 0..<300 { floor.update(i % 10 == 0 ? -60 : -30) }
        // Single quiet frames are smoothed with their neighbours: (-30 + -60) / 2.
        #expect(abs(floor.level! - -45) < 0.05)
        for _ in 0..<300 { floor.update(-20) }
        #expect(floor.level == -20)
    }

    @Test func highPassRemovesHumAndKeepsTheVoiceBand() {
        func gain(_ frequency: Double) -> Double {
            var filter = HighPassFilter(cutoff: 120)
            let input = Self.sine(frequency, amplitude: 0.5, frames: 50)
            var output: [Int16] = []
            input.withUnsafeBufferPointer { filter.process($0, into: &output) }
            let tail = { (x: [Int16]) in x.suffix(4_000).withUnsafeBufferPointer { frameLevel($0) } }
            return tail(output) - tail(input)
        }
        #expect(gain(50) < -25)
        #expect(abs(gain(1_000)) < 0.5)
        #expect(gain(200) > -3)
    }
}
