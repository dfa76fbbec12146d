/// Text appended in chunks, kept within a byte limit: once past it, the first half of the
/// limit and the last half are kept, and the bytes in between are only counted. Cuts fall on
/// Unicode scalar boundaries, so the kept text is valid.
struct BoundedText {
    /// The most UTF-8 bytes kept.
    let limit: Int
    /// Everything, while nothing was left out; afterwards the kept head.
    private var head = ""
    private var headBytes = 0
    /// Chunks of the kept tail, oldest first, from `tailStart` on.
    private var tail: [String] = []
    private var tailStart = 0
    private var tailBytes = 0
    /// Bytes counted but not kept.
    private(set) var omittedBytes = 0

    init(limit: Int) {
        self.limit = max(2, limit)
    }

    private var tailLimit: Int { limit - limit / 2 }

    mutating func append(_ text: String) {
        let count = text.utf8.count
        if omittedBytes == 0, tail.isEmpty {
            if headBytes + count <= limit {
                head += text
                headBytes += count
                return
            }
            // First overflow: the head keeps the first half; what is past it starts the tail.
            let all = head + text
            let cut = Self.boundary(in: all, atOrBefore: limit / 2)
            head = String(all[..<cut])
            headBytes = head.utf8.count
            let rest = String(all[cut...])
            tail = [rest]
            tailBytes = rest.utf8.count
        } else {
            tail.append(text)
            tailBytes += count
        }
        trimTail()
    }

    /// The kept text: the head, then the tail.
    var text: String {
        guard !tail.isEmpty else { return head }
        return head + tail[tailStart...].joined()
    }

    private mutating func trimTail() {
        while tailBytes > tailLimit {
            let first = tail[tailStart]
            let firstBytes = first.utf8.count
            if tailBytes - firstBytes >= tailLimit {
                tailBytes -= firstBytes
                omittedBytes += firstBytes
                tailStart += 1
                continue
            }
            let drop = tailBytes - tailLimit
            let cut = Self.boundary(in: first, atOrAfter: drop)
            let kept = String(first[cut...])
            let dropped = firstBytes - kept.utf8.count
            tail[tailStart] = kept
            tailBytes -= dropped
            omittedBytes += dropped
            break
        }
        if tailStart > 64, tailStart * 2 > tail.count {
            tail.removeFirst(tailStart)
            tailStart = 0
        }
    }

    /// The last scalar boundary at or before byte `offset` of `text`.
    private static func boundary(in text: String, atOrBefore offset: Int) -> String.Index {
        let utf8 = text.utf8
        var index = utf8.index(utf8.startIndex, offsetBy: min(offset, utf8.count))
        while index > utf8.startIndex, index < utf8.endIndex, utf8[index] & 0xC0 == 0x80 {
            index = utf8.index(before: index)
        }
        return index
    }

    /// The first scalar boundary at or after byte `offset` of `text`.
    private static func boundary(in text: String, atOrAfter offset: Int) -> String.Index {
        let utf8 = text.utf8
        var index = utf8.index(utf8.startIndex, offsetBy: min(offset, utf8.count))
        while index < utf8.endIndex, utf8[index] & 0xC0 == 0x80 {
            index = utf8.index(after: index)
        }
        return index
    }
}
