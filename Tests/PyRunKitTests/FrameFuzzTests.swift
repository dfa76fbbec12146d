import Foundation
import Synchronization
import Testing

@testable import PyRunKit

/// The frame decoder and the line buffer under random input (issue 9, "Keep it that way"):
/// random bytes, truncated and oversized lines, invalid UTF-8, NULs, lines split at every
/// offset. Nothing crashes, and no valid frame after garbage is lost or altered.
///
/// Each test draws from a seeded generator and prints its seed; set `PYRUN_FUZZ_SEED` to
/// replay one.
@Suite struct FrameFuzzTests {
    // MARK: - The line buffer

    @Test func randomLinesInRandomChunksComeOutWhole() {
        var random = SeededRandom(label: "line buffer")
        for round in 0..<200 {
            let lines = (0..<random.int(in: 0...12)).map { _ in random.lineBytes() }
            let endsWithPartialLine = random.bool()
            var stream: [UInt8] = lines.flatMap { $0 + [0x0A] }
            let partial = endsWithPartialLine ? random.lineBytes(maximumLength: 40) : []
            stream += partial
            var buffer = LineBuffer()
            var out: [[UInt8]] = []
            for chunk in random.chunks(of: stream) {
                out += chunk.withUnsafeBytes { buffer.append($0) }
            }
            #expect(out == lines, "round \(round), \(random)")
            #expect(buffer.remainder == partial, "round \(round), \(random)")
        }
    }

    @Test func linesSplitAtEveryOffsetAndEveryPairOfOffsets() {
        let text = "{\"a\":\"é中😀\"}\n\n\u{0}\u{1}x\nlast line é\n"
        var stream = Array(text.utf8)
        stream.insert(0xFF, at: 20)  // invalid UTF-8 inside a line
        var whole = LineBuffer()
        let expected = stream.withUnsafeBytes { whole.append($0) }
        for first in 0...stream.count {
            for second in first...stream.count {
                var buffer = LineBuffer()
                var out: [[UInt8]] = []
                for range in [0..<first, first..<second, second..<stream.count] {
                    out += Array(stream[range]).withUnsafeBytes { buffer.append($0) }
                }
                #expect(out == expected, "split at \(first) and \(second)")
                #expect(buffer.remainder.isEmpty)
            }
        }
    }

    @Test func anOversizedLineInTinyAndHugeChunks() {
        var random = SeededRandom(label: "oversized")
        let line = (0..<1_500_000).map { _ in UInt8.random(in: 0...255, using: &random) }.filter { $0 != 0x0A }
        let stream = line + [0x0A] + Array("next\n".utf8)
        var buffer = LineBuffer()
        var out: [[UInt8]] = []
        var offset = 0
        while offset < stream.count {
            let size = random.bool() ? random.int(in: 1...7) : random.int(in: 1...(1 << 20))
            let end = min(stream.count, offset + size)
            out += Array(stream[offset..<end]).withUnsafeBytes { buffer.append($0) }
            offset = end
        }
        #expect(out == [line, Array("next".utf8)], "\(random)")
    }

    // MARK: - The frame decoder

    @Test func validFramesSurviveAnyGarbageAroundThem() {
        var random = SeededRandom(label: "frame decoder")
        for round in 0..<60 {
            var stream: [UInt8] = []
            var expectedFrames: [Frame] = []
            var garbageLines = 0
            for _ in 0..<random.int(in: 1...25) {
                switch random.int(in: 0...9) {
                case 0...4:
                    let (frame, line) = random.frameLine()
                    expectedFrames.append(frame)
                    stream += line + [0x0A]
                case 5:
                    stream.append(0x0A)  // an empty line: ignored, no event
                default:
                    let garbage = random.garbageLine()
                    garbageLines += 1
                    stream += garbage + [0x0A]
                }
            }
            // Sometimes the stream ends with a frame without its newline: still delivered.
            if random.bool() {
                let (frame, line) = random.frameLine()
                expectedFrames.append(frame)
                stream += line
            }
            let events = Mutex<[ProcessEvent]>([])
            let decoder = FrameDecoder { batch, bytes in
                #expect(!batch.isEmpty)
                #expect(bytes > 0)
                events.withLock { $0 += batch }
            }
            for chunk in random.chunks(of: stream) {
                chunk.withUnsafeBytes { decoder.decode($0) }
            }
            decoder.finish()
            let all = events.withLock { $0 }
            var frames: [Frame] = []
            var malformed = 0
            for event in all {
                switch event {
                case .frame(let frame): frames.append(frame)
                case .malformedLine: malformed += 1
                case .frameChannelClosed, .exited: Issue.record("the decoder made a process event")
                }
            }
            #expect(frames == expectedFrames, "round \(round), \(random)")
            #expect(malformed == garbageLines, "round \(round), \(random)")
        }
    }

    @Test func everySplitOfAFrameAfterGarbageDecodesTheSame() {
        var random = SeededRandom(label: "frame splits")
        let (frame, line) = random.frameLine(allowingLargeText: false)
        let stream = Array("{\"type\":\"stdout\",\"id\":".utf8) + [0xC3, 0x00, 0x0A] + line + [0x0A]
        for offset in 0...stream.count {
            let events = Mutex<[ProcessEvent]>([])
            let decoder = FrameDecoder { batch, _ in events.withLock { $0 += batch } }
            Array(stream[..<offset]).withUnsafeBytes { decoder.decode($0) }
            Array(stream[offset...]).withUnsafeBytes { decoder.decode($0) }
            decoder.finish()
            let all = events.withLock { $0 }
            #expect(all.count == 2, "split at \(offset)")
            if case .malformedLine = all.first {} else { Issue.record("split at \(offset): \(all)") }
            if case .frame(let decoded) = all.last {
                #expect(decoded == frame, "split at \(offset)")
            } else {
                Issue.record("split at \(offset): the frame after the garbage was lost: \(all)")
            }
        }
    }
}

/// SplitMix64, seeded from `PYRUN_FUZZ_SEED` or the clock; the seed is printed so that a
/// failure can be replayed, and appears in every failure message through `description`.
struct SeededRandom: RandomNumberGenerator, CustomStringConvertible {
    let seed: UInt64
    private var state: UInt64

    init(label: String) {
        let given = ProcessInfo.processInfo.environment["PYRUN_FUZZ_SEED"].flatMap { UInt64($0) }
        seed = given ?? UInt64(truncatingIfNeeded: DispatchTime.now().uptimeNanoseconds)
        state = seed
        print("FrameFuzzTests \(label): seed \(seed) (replay with PYRUN_FUZZ_SEED=\(seed))")
    }

    var description: String { "seed \(seed)" }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    mutating func int(in range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func bool() -> Bool { Bool.random(using: &self) }

    /// `bytes` cut at random places: mostly small pieces, sometimes one byte, sometimes all.
    mutating func chunks(of bytes: [UInt8]) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let size: Int
            switch int(in: 0...9) {
            case 0: size = 1
            case 1: size = bytes.count
            default: size = int(in: 1...64)
            }
            let end = min(bytes.count, offset + size)
            chunks.append(Array(bytes[offset..<end]))
            offset = end
        }
        return chunks
    }

    /// Bytes without a newline: text, binary, NULs, broken UTF-8, now and then a long run.
    mutating func lineBytes(maximumLength: Int = 300) -> [UInt8] {
        let length = int(in: 0...19) == 0 ? int(in: 1000...70_000) : int(in: 0...maximumLength)
        return (0..<length).map { _ in
            var byte = UInt8.random(in: 0...255, using: &self)
            if byte == 0x0A { byte = 0x00 }
            return byte
        }
    }

    /// A line that is never a JSON object: random bytes after a first byte that cannot start
    /// one, a frame cut short, invalid UTF-8 inside JSON, too deep a nesting, a huge line.
    mutating func garbageLine() -> [UInt8] {
        switch int(in: 0...6) {
        case 0:
            let starts: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xC3, 0xFF, UInt8(ascii: "x"), UInt8(ascii: "]")]
            return [starts[int(in: 0...(starts.count - 1))]] + lineBytes()
        case 1:
            let (_, line) = frameLine()
            return Array(line.prefix(int(in: 1...(line.count - 1))))
        case 2:
            return Array("{\"type\":\"stdout\",\"id\":\"e1\",\"data\":\"".utf8) + [0xFF, 0xFE, 0x00, 0xC0, 0xAF]
                + Array("\"}".utf8)
        case 3:
            return Array(String(repeating: "[", count: int(in: 600...100_000)).utf8)
        case 4:
            return Array(String(repeating: "{\"a\":", count: int(in: 600...20_000)).utf8)
        case 5:
            return Array("\"a string\"".utf8)  // JSON, but not an object
        default:
            return [UInt8(ascii: "#")] + [UInt8](repeating: UInt8(ascii: "g"), count: int(in: 100_000...1_500_000))
        }
    }

    /// A valid frame and its line, written either by the project's serializer or the way
    /// Python's `json.dumps` writes (every non-ASCII character as `\uXXXX`).
    mutating func frameLine(allowingLargeText: Bool = true) -> (Frame, [UInt8]) {
        let id = "e\(int(in: 0...9999))"
        let frame: Frame
        let json: JSONValue
        switch int(in: 0...2) {
        case 0:
            let count = int(in: 0...100_000)
            frame = .started(id: id, executionCount: count)
            json = .object(["type": .string("started"), "id": .string(id), "executionCount": .number(Double(count))])
        case 1:
            let stream: PyRunKit.OutputStream = bool() ? .stdout : .stderr
            let large = allowingLargeText && int(in: 0...29) == 0
            let text = self.text(length: large ? int(in: 10_000...200_000) : int(in: 0...200))
            frame = .output(id: id, stream: stream, text: text)
            json = .object(["type": .string(stream.rawValue), "id": .string(id), "data": .string(text)])
        default:
            json = .object(["type": .string("progress\(int(in: 0...9))"), "value": .number(Double(int(in: 0...100)))])
            frame = .unknown(json)
        }
        let line = bool() ? Array(json.serialized().utf8) : Array(Self.asciiJSON(json).utf8)
        return (frame, line)
    }

    /// Text mixing ASCII, control characters (NUL among them), quotes, backslashes, newlines,
    /// accents, CJK and characters beyond the BMP.
    mutating func text(length: Int) -> String {
        let alphabet: [Unicode.Scalar] = [
            "a", "Z", "0", " ", "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1F}",
            "\u{7F}", "é", "ß", "中", "\u{2028}", "\u{FEFF}", "😀", "\u{10FFFF}", "\u{301}",
        ]
        var scalars = String.UnicodeScalarView()
        for _ in 0..<length { scalars.append(alphabet[int(in: 0...(alphabet.count - 1))]) }
        return String(scalars)
    }

    /// JSON as Python writes it by default: ASCII only, `\uXXXX` with surrogate pairs.
    static func asciiJSON(_ value: JSONValue) -> String {
        switch value {
        case .object(let members):
            return "{" + members.map { "\(asciiString($0.key)): \(asciiJSON($0.value))" }.joined(separator: ", ") + "}"
        case .string(let text):
            return asciiString(text)
        default:
            return value.serialized()
        }
    }

    private static func asciiString(_ text: String) -> String {
        var out = "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                out +=
                    "\\u" + String(repeating: "0", count: 4 - String(unit, radix: 16).count) + String(unit, radix: 16)
            }
        }
        return out + "\""
    }
}
