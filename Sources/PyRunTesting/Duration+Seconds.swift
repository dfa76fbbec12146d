extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// "0.84 s", "12.5 s": two decimals below ten seconds, one above.
    var secondsText: String {
        let value = seconds
        let digits = value < 10 ? 100.0 : 10.0
        let rounded = (value * digits).rounded() / digits
        return rounded == rounded.rounded() ? "\(Int(rounded)) s" : "\(rounded) s"
    }
}
