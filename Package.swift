// swift-tools-version:6.1
import PackageDescription

/// Settings every target shares: Swift 6 mode is the tools-version default; these upcoming
/// features keep imports and existentials explicit, as in swift-subprocess.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "pyrun",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PyRunKit", targets: ["PyRunKit"]),
        .library(name: "PyRunTesting", targets: ["PyRunTesting"]),
        .executable(name: "pyrun", targets: ["pyrun"]),
        // The browser console: its own program, so `pyrun` links no HTTP server (issue 14's
        // rule; docs/console-protocol.md has the figures). `pyrun serve --http` starts it.
        .executable(name: "pyrun-console", targets: ["pyrun-console"]),
        .executable(name: "pyrun-bench", targets: ["pyrun-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
        // The browser console's HTTP and WebSocket server. Traits off: no swift-configuration.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        // Hummingbird's own lifecycle library: how the console stops its server gracefully.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // `swift package generate-documentation`: only resolved for a build, never compiled.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // fork and exec with a parent-death signal, for launchers (ssh, kubectl) that must
        // not outlive a host killed outright: what posix_spawn cannot do.
        .target(name: "CPyRunSpawn"),
        .target(
            name: "PyRunKit",
            dependencies: ["CPyRunSpawn", .product(name: "Logging", package: "swift-log")],
            // The Python that ships inside the binary: one source each, embedded at build time.
            resources: [
                .embedInCode("../../runner/runner.py"),
                .embedInCode("../../Resources/prelude/pyrun_prelude.py"),
                .embedInCode("../../Resources/testing/pyrun_testing.py"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LineEditing",
            swiftSettings: strictSettings
        ),
        .target(
            name: "PyRunMCP",
            dependencies: [
                "PyRunKit",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "PyRunConsole",
            dependencies: [
                "PyRunKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The page, embedded so the binary serves it from anywhere, with no build step.
            resources: [
                .embedInCode("../../Resources/console/index.html"),
                .embedInCode("../../Resources/console/console.css"),
                .embedInCode("../../Resources/console/console.js"),
                .embedInCode("../../Resources/console/connection.js"),
                .embedInCode("../../Resources/console/transcript.js"),
                .embedInCode("../../Resources/console/render.js"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "pyrun",
            dependencies: [
                "PyRunKit",
                "PyRunTesting",
                "LineEditing",
                "PyRunMCP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "pyrun-console",
            dependencies: [
                "PyRunConsole",
                "PyRunKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "pyrun-bench",
            dependencies: [
                "PyRunKit",
                // LoopbackSSHServer, for the remote-kernel rows.
                "PyRunTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "PyRunTesting",
            dependencies: ["PyRunKit", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PyRunCLITests",
            dependencies: ["PyRunKit", "PyRunTesting"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PyRunConsoleTests",
            dependencies: ["PyRunConsole", "PyRunKit"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LineEditingTests",
            dependencies: ["LineEditing"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PyRunMCPTests",
            dependencies: ["PyRunMCP", .product(name: "MCP", package: "swift-sdk")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PyRunTestingTests",
            dependencies: ["PyRunTesting", "PyRunKit"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PyRunKitTests",
            dependencies: ["PyRunKit", "PyRunTesting"],
            swiftSettings: strictSettings
        ),
    ]
)
