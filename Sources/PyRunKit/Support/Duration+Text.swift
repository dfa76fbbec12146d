extension Duration {
    /// "1.5 s", for notices and death descriptions.
    var formattedSeconds: String {
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        // Under a second, tenths would round a bound someone set to 0.05 s to "0.1 s", or to
        // "0 s": milliseconds then, unless tenths say it exactly.
        if seconds > 0, seconds < 1, abs(seconds * 10 - (seconds * 10).rounded()) > 1e-6 {
            return "\(Int((seconds * 1000).rounded())) ms"
        }
        let rounded = (seconds * 10).rounded() / 10
        return rounded == rounded.rounded() ? "\(Int(rounded)) s" : "\(rounded) s"
    }

    /// Milliseconds as a fractional number, for JSON.
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
