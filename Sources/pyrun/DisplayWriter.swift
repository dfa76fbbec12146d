import Foundation
import PyRunKit

/// Saves image displays as files, since a terminal cannot show them; the caller prints the
/// path. The directory is created on the first image only, so runs without images leave
/// nothing behind.
final class DisplayWriter {
    /// Image types in order of preference, with the file extension each is saved under.
    static let imageTypes: [(mimeType: String, fileExtension: String, isBase64: Bool)] = [
        ("image/png", "png", true),
        ("image/jpeg", "jpg", true),
        ("image/gif", "gif", true),
        ("image/webp", "webp", true),
        ("image/svg+xml", "svg", false),
    ]

    private let chosenDirectory: String?
    private var directory: String?
    private var savedCount = 0

    /// - Parameter directory: where to save images; nil for a new temporary directory.
    init(directory: String?) {
        self.chosenDirectory = directory
    }

    /// Whether the bundle holds an image this writer can save.
    static func hasImage(_ bundle: MIMEBundle) -> Bool {
        imageTypes.contains { bundle[$0.mimeType] != nil }
    }

    /// Saves the preferred image of `bundle`.
    /// - Returns: the file's path and MIME type, or nil when the bundle has no image.
    /// - Throws: when the directory or file cannot be written.
    func saveImage(of bundle: MIMEBundle) throws -> (path: String, mimeType: String)? {
        for imageType in Self.imageTypes {
            let data: Data?
            if imageType.isBase64 {
                data = bundle.binaryData(for: imageType.mimeType)
            } else {
                data = bundle[imageType.mimeType]?.stringValue.map { Data($0.utf8) }
            }
            guard let data else { continue }
            savedCount += 1
            let path = "\(try outputDirectory())/display-\(savedCount).\(imageType.fileExtension)"
            try data.write(to: URL(fileURLWithPath: path))
            return (path, imageType.mimeType)
        }
        return nil
    }

    private func outputDirectory() throws -> String {
        if let directory { return directory }
        let created: String
        if let chosenDirectory {
            created = chosenDirectory
        } else {
            created =
                FileManager.default.temporaryDirectory
                .appendingPathComponent("pyrun-display-\(UUID().uuidString.prefix(8).lowercased())").path
        }
        try FileManager.default.createDirectory(atPath: created, withIntermediateDirectories: true)
        directory = created
        return created
    }
}
