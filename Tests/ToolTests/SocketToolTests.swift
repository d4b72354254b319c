import Foundation
import Testing
import VXShared

/// vx-capture and vx-play joined by Unix sockets instead of a pipe, with one
/// side killed and restarted while the stream runs.
@Suite(.serialized) struct SocketToolTests {
    let dir: URL
    init() throws { dir = try Tool.temporaryDirectory() }

    /// Runs a bash script with the tools' paths in $CAPTURE and $PLAY.
    func script(_ text: String, timeout: Double = 60) throws -> Tool.Result {
        try Tool.shell(["bash", "-c", text], environment: [
            "CAPTURE": Tool.path("vx-capture"), "PLAY": Tool.path("vx-play"), "DIR": dir.path,
        ], timeout: timeout)
    }

    @Test func writerReconnectsWhenTheListeningReaderRestarts() throws {
        try TestAudio.sine(dir.appendingPathComponent("in.wav"), rate: 16_000, seconds: 3, frequency: 440)
        let result = try script("""
            sock=$DIR/run/play.sock
            "$PLAY" --from listen:$sock "$DIR/first.wav" >/dev/null 2>"$DIR/first.log" & first=$!
            "$CAPTURE" --realtime "$DIR/in.wav" --to connect:$sock 2>"$DIR/capture.log" & capture=$!
            # The first reader dies once it holds about 0.5 s of the stream (its file grows as it goes).
            for i in $(seq 500); do
                [ "$(stat -c %s "$DIR"/.first.wav.*.part 2>/dev/null || echo 0)" -gt 16044 ] && break; sleep 0.02
            done
            kill -KILL $first; wait $first 2>/dev/null
            sleep 0.3
            "$PLAY" --from listen:$sock "$DIR/second.wav" >"$DIR/second.reports" 2>"$DIR/second.log" & second=$!
            wait $capture; echo "capture=$?"
            # SIGTERM drops what is still queued: wait for the report that the stretch was written.
            for i in $(seq 100); do grep -q played "$DIR/second.reports" 2>/dev/null && break; sleep 0.1; done
            kill -TERM $second; wait $second; echo "second=$?"
            """)
        #expect(result.stdoutText == "capture=0\nsecond=0\n", "\(result.stdoutText) \(result.stderr)")
        let seconds = try TestAudio.stat(dir.appendingPathComponent("second.wav"), "Length (seconds)")
        // The restarted reader got the rest of the stream, about 2.5 s here, starting with the
        // repeated audio-start, so it knew the format; not the whole 3 s.
        #expect(seconds > 1.2 && seconds < 2.9, "second listener got \(seconds) s")
    }

    @Test func writerWaitsForAListenerThatStartsLater() throws {
        try TestAudio.sine(dir.appendingPathComponent("in.wav"), rate: 16_000, seconds: 0.5, frequency: 440)
        let result = try script("""
            sock=$DIR/late.sock
            "$CAPTURE" "$DIR/in.wav" --to connect:$sock & capture=$!
            sleep 0.4
            "$PLAY" --from listen:$sock "$DIR/out.wav" >"$DIR/reports" & play=$!
            wait $capture; echo "capture=$?"
            # SIGTERM drops what is still queued: wait for the report that the stretch was written.
            for i in $(seq 100); do grep -q played "$DIR/reports" 2>/dev/null && break; sleep 0.1; done
            kill -TERM $play; wait $play; echo "play=$?"
            """)
        #expect(result.stdoutText == "capture=0\nplay=0\n", "\(result.stderr)")
        #expect(try TestAudio.soxi(dir.appendingPathComponent("out.wav"), "-s") == 8_000)
    }

    @Test func readerConnectsToAListeningWriterAndEndsWhenItFinishes() throws {
        try TestAudio.sine(dir.appendingPathComponent("in.wav"), rate: 16_000, seconds: 0.5, frequency: 440)
        let result = try script("""
            sock=$DIR/cap.sock
            "$CAPTURE" "$DIR/in.wav" --to listen:$sock & capture=$!
            "$PLAY" --from connect:$sock "$DIR/out.wav" >/dev/null; echo "play=$?"
            wait $capture; echo "capture=$?"
            test -e $sock && echo "socket left behind"
            """)
        #expect(result.stdoutText == "play=0\ncapture=0\n", "\(result.stderr)")
        #expect(try TestAudio.soxi(dir.appendingPathComponent("out.wav"), "-s") == 8_000)
    }

    @Test func connectingToNothingGivesUpWithStatus69() throws {
        let result = try Tool.run("vx-play", ["--from", "connect:\(dir.path)/nobody.sock", "--text"], timeout: 40)
        #expect(result.status == 69)
        #expect(result.stderr.contains("is unavailable: gave up after"), "\(result.stderr)")
    }
}
