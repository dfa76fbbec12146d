import Foundation
import Testing

@testable import LineEditing

/// The history: bounded in memory, and kept in a file between sessions.
@Suite struct HistoryTests {
    @Test func blankAndRepeatedEntriesAreNotKept() {
        var history = History()
        #expect(history.add("x = 1") == true)
        #expect(history.add("x = 1") == false)
        #expect(history.add("   ") == false)
        #expect(history.add("y") == true)
        #expect(history.add("x = 1") == true)
        #expect(history.entries == ["x = 1", "y", "x = 1"])
    }

    @Test func theOldestEntriesGoPastTheLimit() {
        var history = History(limit: 3)
        for number in 1...5 { history.add("\(number)") }
        #expect(history.entries == ["3", "4", "5"])
    }

    @Test func entriesWithLineBreaksAndBackslashesRoundTrip() {
        for entry in ["def f():\n    return '\\n'", "a\\", "\\\\n", "tab\there", "名前 = 1", "cr\rlf"] {
            let line = HistoryFile.encode(entry)
            #expect(!line.contains("\n"))
            #expect(HistoryFile.decode(line[...]) == entry)
        }
    }

    // MARK: - The file

    private func withTemporaryFolder(_ body: (String) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try body(folder)
    }

    @Test func appendedEntriesLoadInOrderAndWhole() throws {
        try withTemporaryFolder { folder in
            let file = HistoryFile(path: "\(folder)/state/app/history")
            #expect(try file.load() == [])
            try file.append("import math")
            try file.append("def f():\n    return math.pi")
            #expect(try HistoryFile(path: file.path).load() == ["import math", "def f():\n    return math.pi"])
        }
    }

    @Test func theFileAndFolderArePrivate() throws {
        try withTemporaryFolder { folder in
            let file = HistoryFile(path: "\(folder)/app/history")
            try file.append("secret = 'hunter2'")
            let fileMode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
            let folderAttributes = try FileManager.default.attributesOfItem(atPath: "\(folder)/app")
            let folderMode = folderAttributes[.posixPermissions] as? Int
            #expect(fileMode == 0o600)
            #expect(folderMode == 0o700)
        }
    }

    @Test func aFileTwiceTheLimitIsCutBackWhenLoaded() throws {
        try withTemporaryFolder { folder in
            let file = HistoryFile(path: "\(folder)/history", limit: 3)
            for number in 1...5 { try file.append("\(number)") }
            #expect(try file.load() == ["3", "4", "5"])
            // Under twice the limit: left alone.
            #expect(try String(contentsOfFile: file.path, encoding: .utf8) == "1\n2\n3\n4\n5\n")
            try file.append("6")
            #expect(try file.load() == ["4", "5", "6"])
            #expect(try String(contentsOfFile: file.path, encoding: .utf8) == "4\n5\n6\n")
        }
    }

    @Test func theStandardPathFollowsXDGThenHome() {
        #expect(
            HistoryFile.standardPath(application: "app", environment: ["XDG_STATE_HOME": "/s", "HOME": "/h"])
                == "/s/app/history")
        #expect(
            HistoryFile.standardPath(application: "app", environment: ["HOME": "/h"]) == "/h/.local/state/app/history")
        // A relative XDG path is to be ignored, says the specification.
        #expect(
            HistoryFile.standardPath(application: "app", environment: ["XDG_STATE_HOME": "rel", "HOME": "/h"])
                == "/h/.local/state/app/history")
        #expect(HistoryFile.standardPath(application: "app", environment: [:]) == nil)
    }
}
