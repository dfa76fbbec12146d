import Foundation
import PyRunKit

/// Everything `pyrun mcp` is started with: how its sessions' interpreters start, what they
/// may see of the server's environment, and the limits the tools state.
public struct MCPServerConfiguration: Sendable {
    /// How every session's interpreter starts (interpreter, working directory, prelude,
    /// resource limits). Its `environment` is replaced by the allow-list of
    /// `environmentPolicy` applied to `serverEnvironment`.
    public var kernel: KernelConfiguration
    /// Which of the server's environment variables the interpreters get.
    public var environmentPolicy: KernelEnvironmentPolicy
    /// Replace the values of the server's secret-looking variables with `[redacted]` in
    /// everything returned to the model (`--no-redact` turns it off).
    public var redactsSecrets: Bool
    /// Output per reply, timeouts and waits, as the tool schemas state them.
    public var limits: ToolCatalog.Limits
    /// Where run output files and saved images go; nil makes a private directory under the
    /// temporary directory, removed when the server ends.
    public var runDirectory: String?
    /// Interpreters started ahead of need, so a new session's first call does not wait for
    /// one to start.
    public var warmSpares: Int
    /// The environment the server was started with: the source of the allow-list and of
    /// the secrets to redact.
    public var serverEnvironment: [String: String]
    /// The version the server reports at `initialize`.
    public var serverVersion: String
    /// A browser console of the sessions (`pyrun mcp --http`); nil: none.
    public var console: MCPConsole?

    public init(
        kernel: KernelConfiguration = KernelConfiguration(),
        environmentPolicy: KernelEnvironmentPolicy = KernelEnvironmentPolicy(),
        redactsSecrets: Bool = true,
        limits: ToolCatalog.Limits = ToolCatalog.Limits(),
        runDirectory: String? = nil,
        warmSpares: Int = 1,
        serverEnvironment: [String: String] = ProcessInfo.processInfo.environment,
        serverVersion: String = "0.1.0",
        console: MCPConsole? = nil
    ) {
        self.kernel = kernel
        self.environmentPolicy = environmentPolicy
        self.redactsSecrets = redactsSecrets
        self.limits = limits
        self.runDirectory = runDirectory
        self.warmSpares = warmSpares
        self.serverEnvironment = serverEnvironment
        self.serverVersion = serverVersion
        self.console = console
    }

    /// The configuration every session's interpreter gets: `kernel` with exactly the
    /// allowed variables of the server's environment. Behind a launcher (`ssh`) the far side
    /// keeps its own variables of the allowed names (its `PATH`, `HOME`; not the prefixed
    /// ones, `LC_*`, `PYTHON*`, which a start line cannot name), and only the names passed
    /// one by one (`--pass-env`) carry the server's values there.
    var sessionKernel: KernelConfiguration {
        var configuration = kernel
        if kernel.launcher.isRemote {
            let passed = environmentPolicy.names.subtracting(KernelEnvironmentPolicy.defaultNames)
            configuration.environment = .clean(
                allowing: environmentPolicy.names, setting: serverEnvironment.filter { passed.contains($0.key) })
        } else {
            configuration.environment = .clean(allowing: [], setting: environmentPolicy.filter(serverEnvironment))
        }
        return configuration
    }

    /// What replies are redacted with.
    var redactor: SecretRedactor {
        redactsSecrets ? SecretRedactor(environment: serverEnvironment) : .disabled
    }
}
