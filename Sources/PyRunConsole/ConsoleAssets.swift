/// The console page's files, embedded in the binary from `Resources/console/` at build time,
/// so the server needs nothing on disk and nothing from elsewhere.
enum ConsoleAssets {
    /// One file and the type it is served as.
    struct Asset: Sendable {
        var bytes: [UInt8]
        var contentType: String
    }

    /// The file served at `path`, or nil (404).
    static func asset(at path: String) -> Asset? {
        // Browsers refuse module scripts of any type but JavaScript's.
        let javascript = "text/javascript; charset=utf-8"
        switch path {
        case "/", "/index.html":
            return Asset(bytes: PackageResources.index_html, contentType: "text/html; charset=utf-8")
        case "/console.css": return Asset(bytes: PackageResources.console_css, contentType: "text/css; charset=utf-8")
        case "/console.js": return Asset(bytes: PackageResources.console_js, contentType: javascript)
        case "/connection.js": return Asset(bytes: PackageResources.connection_js, contentType: javascript)
        case "/transcript.js": return Asset(bytes: PackageResources.transcript_js, contentType: javascript)
        case "/render.js": return Asset(bytes: PackageResources.render_js, contentType: javascript)
        default: return nil
        }
    }
}
