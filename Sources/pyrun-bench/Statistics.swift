/// Median, minimum and maximum of repeated measurements of one figure on one side.
struct Summary: Codable, Sendable {
    var median: Double
    var min: Double
    var max: Double
    /// How many measurements it summarises.
    var runs: Int

    /// Summarises `values`; nil when there are none.
    init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        min = sorted[0]
        max = sorted[sorted.count - 1]
        runs = sorted.count
    }
}

/// Measurements of one figure, per side, gathered while the sides take turns.
struct SideSamples {
    var pyrun: [Double] = []
    var floor: [Double] = []
    var jupyter: [Double] = []
}
