import Foundation

/// What a figure's numbers are.
enum FigureUnit: String, Codable, Sendable {
    /// Seconds of wall time.
    case seconds
    /// Bytes of memory.
    case bytes
}

/// One row of the table: a figure measured through PyRunKit, next to its floor and Jupyter.
/// Lower is better for every figure.
struct Figure: Encodable, Sendable {
    /// Section number of issue 5 (1 cold start … 7 CLI); 8 the shared sessions, 9 `pyrun mcp` (issue 12),
    /// 10 host calls (issue 17), 11 the prelude rows of issue 11, 12 remote kernels (issue 16),
    /// 13 template kernels (issue 15).
    var section: Int
    var name: String
    var unit: FigureUnit
    var pyrun: Summary?
    /// What the floor is, e.g. "python3 -c pass".
    var floorName: String?
    var floor: Summary?
    var jupyter: Summary?
    /// The target for the pyrun median, in `unit`.
    var target: Double?
    /// Set instead of a target that is a ratio to the floor (the CLI's 1.3×).
    var targetRatioToFloor: Double?
    /// Why a side is missing, or what else the number means (throughput, grace).
    var note: String?

    var ratioToFloor: Double? {
        guard let pyrun, let floor, floor.median > 0 else { return nil }
        return pyrun.median / floor.median
    }

    var ratioToJupyter: Double? {
        guard let pyrun, let jupyter, jupyter.median > 0 else { return nil }
        return pyrun.median / jupyter.median
    }

    /// Nil when there is no target or no measurement.
    var meetsTarget: Bool? {
        guard let pyrun else { return nil }
        if let target { return pyrun.median <= target }
        if let targetRatioToFloor, let ratioToFloor { return ratioToFloor <= targetRatioToFloor }
        return nil
    }

    private enum CodingKeys: String, CodingKey {
        case section, name, unit, pyrun, floorName, floor, jupyter, target, targetRatioToFloor, note
        case ratioToFloor, ratioToJupyter, meetsTarget
    }

    /// The measurements, and the ratios and verdict the table shows.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(section, forKey: .section)
        try container.encode(name, forKey: .name)
        try container.encode(unit, forKey: .unit)
        try container.encodeIfPresent(pyrun, forKey: .pyrun)
        try container.encodeIfPresent(floorName, forKey: .floorName)
        try container.encodeIfPresent(floor, forKey: .floor)
        try container.encodeIfPresent(jupyter, forKey: .jupyter)
        try container.encodeIfPresent(target, forKey: .target)
        try container.encodeIfPresent(targetRatioToFloor, forKey: .targetRatioToFloor)
        try container.encodeIfPresent(note, forKey: .note)
        try container.encodeIfPresent(ratioToFloor, forKey: .ratioToFloor)
        try container.encodeIfPresent(ratioToJupyter, forKey: .ratioToJupyter)
        try container.encodeIfPresent(meetsTarget, forKey: .meetsTarget)
    }
}

/// A step of a figure's path, measured to show where the time goes.
struct ProfileStep: Codable, Sendable {
    var figure: String
    var step: String
    var summary: Summary
}

/// The machine and interpreter the run used.
struct MachineDescription: Codable, Sendable {
    var date: String
    var system: String
    var cpu: String
    var cores: Int
    var loadAtStart: String
    var loadAtEnd: String
    var python: String
    var pythonExecutable: String
    var jupyter: String
    var command: String
    var mode: String
    /// The commit measured (builds take the working tree as it is).
    var code: String
}

/// Everything one run produced; `--json` writes it as it is.
struct Report: Encodable, Sendable {
    var machine: MachineDescription
    var figures: [Figure] = []
    var profile: [ProfileStep] = []
    /// The warm Jupyter kernel's resident bytes right after its warm-up, for the memory row.
    var jupyterIdleKernelBytes: Double?
    /// Scenarios that broke: the run exits non-zero when there are any.
    var failures: [String] = []

    init(machine: MachineDescription) {
        self.machine = machine
    }
}
