/// A function of the host that the kernel's Python code calls as `host.NAME(…)` (or
/// `host.call("NAME", …)`), so one snippet can loop, fan out in threads and combine answers
/// instead of an agent spending a turn per tool call. Calls travel in-band, over the kernel's
/// own pipes (`call` and `call_reply` frames), so they work under any launcher.
///
/// The name, description and `parameters` schema are declared to the runner when the kernel
/// starts (`help(host)` shows them); the runner checks every call's arguments against the
/// schema and raises `TypeError` in Python before anything is sent. The `handler` runs in
/// the host, once per call, concurrently with other calls (Python threads may call at once),
/// and its task is cancelled when the Python side stops waiting: an interrupt, the end of
/// the execution, the kernel's death, or the call's `timeout`. A handler must not wait for
/// an execution of the kernel that called it: that execution would queue behind the one
/// waiting for the handler, and the call would end by its timeout.
///
/// Equality and hashing look at `name`, `description`, `parameters` and `timeout` only:
/// closures cannot be compared, and the handler is not part of what the Python process
/// knows. So a `KernelConfiguration` whose functions differ only in their handlers is equal
/// to the old one: `KernelPool` keeps the key's kernel (and its state) and serves the key's
/// later calls with the new handlers.
public struct HostFunction: Sendable, Hashable, CustomStringConvertible {
    /// Serves one call: receives its arguments and context, returns the value Python gets.
    /// A thrown `HostCallError` reaches Python with its type and message; any other error
    /// becomes a `HostCallError` named after its Swift type.
    public typealias Handler = @Sendable (HostCall) async throws -> JSONValue

    /// The Python name: `host.NAME(…)` when it is an identifier (and not `call`), and
    /// `host.call("NAME", …)` always.
    public var name: String
    /// One line that says what it does, shown by `help(host)` (the declaration's
    /// `description`).
    public var summary: String
    /// The JSON Schema of the arguments object (`{"type": "object", "properties": …,
    /// "required": […]}`). Required arguments become positional-or-keyword Python
    /// parameters in the order of `required`, the others keyword-only. When it lists
    /// `properties`, other argument names are refused unless `additionalProperties` allows
    /// them; without `properties`, any keyword arguments are accepted.
    public var parameters: JSONValue
    /// How long one call may take; past it the handler is cancelled and Python gets a
    /// `HostCallError` of type `Timeout`. Time inside host calls does not count towards the
    /// execution's own `ExecutionOptions.timeout`.
    public var timeout: Duration
    /// Serves the calls.
    public var handler: Handler

    /// The `timeout` a function gets unless it says otherwise.
    public static let defaultTimeout: Duration = .seconds(60)

    /// The schema of a function that takes any keyword arguments.
    public static let anyArguments: JSONValue = .object(["type": .string("object")])

    /// Creates a host function.
    /// - Parameters:
    ///   - name: the Python name.
    ///   - summary: one line for `help(host)`.
    ///   - parameters: the JSON Schema of the arguments object.
    ///   - timeout: the bound of one call.
    ///   - handler: serves each call.
    public init(
        name: String, summary: String, parameters: JSONValue = HostFunction.anyArguments,
        timeout: Duration = HostFunction.defaultTimeout, handler: @escaping Handler
    ) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.timeout = timeout
        self.handler = handler
    }

    public static func == (lhs: HostFunction, rhs: HostFunction) -> Bool {
        lhs.name == rhs.name && lhs.summary == rhs.summary && lhs.parameters == rhs.parameters
            && lhs.timeout == rhs.timeout
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(summary)
        hasher.combine(parameters)
        hasher.combine(timeout)
    }

    /// "host.read: Read a file (timeout 60 s)".
    public var description: String { "host.\(name): \(summary) (timeout \(timeout.formattedSeconds))" }

    /// The function as the runner's declaration lists it (`PYRUN_HOST_FUNCTIONS`).
    var declaration: JSONValue {
        .object(["name": .string(name), "description": .string(summary), "parameters": parameters])
    }
}

/// One call from Python code, as a `HostFunction`'s handler receives it.
public struct HostCall: Sendable, Hashable, CustomStringConvertible {
    /// The host function's name.
    public var function: String
    /// The arguments, a JSON object checked against the function's schema by the runner.
    public var arguments: JSONValue
    /// The call's id, unique within its kernel.
    public var callID: String
    /// The execution whose code made the call.
    public var executionID: String
    /// The pool key of the kernel that called; nil for a kernel used on its own.
    public var kernelKey: String?

    /// Creates a call (as a test of a handler would).
    public init(function: String, arguments: JSONValue, callID: String, executionID: String, kernelKey: String? = nil) {
        self.function = function
        self.arguments = arguments
        self.callID = callID
        self.executionID = executionID
        self.kernelKey = kernelKey
    }

    /// The argument `name`, if the call has it.
    public subscript(name: String) -> JSONValue? { arguments[name] }

    /// "host.read {"path":"a.py"} (call c3 of execution e2, key agent-7)".
    public var description: String {
        "host.\(function) \(arguments) (call \(callID) of execution \(executionID)\(kernelKey.map { ", key \($0)" } ?? ""))"
    }
}

/// A host call that failed, as Python sees it: `HostCallError` with this `type` and
/// `message`. Throw one from a handler to choose both; any other error a handler throws
/// becomes one whose type is the error's Swift type name.
public struct HostCallError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A short, stable name for the kind of failure (`FileNotFound`, `Timeout`), which
    /// Python code can test (`e.type`).
    public var type: String
    /// What happened, for a person.
    public var message: String

    /// Creates an error with the type and message Python will see.
    public init(type: String, message: String) {
        self.type = type
        self.message = message
    }

    /// The error Python sees for whatever a handler threw.
    init(thrownBy error: any Error) {
        if let error = error as? HostCallError {
            self = error
        } else {
            self.init(type: String(describing: Swift.type(of: error)), message: String(describing: error))
        }
    }

    public var description: String { message.isEmpty ? type : "\(type): \(message)" }

    /// The function did not answer within its timeout.
    static func timedOut(_ function: String, after timeout: Duration) -> HostCallError {
        HostCallError(type: "Timeout", message: "host.\(function) did not answer within \(timeout.formattedSeconds)")
    }

    /// The runner asked for a function this host does not have.
    static func unknownFunction(_ name: String, known: [String]) -> HostCallError {
        let names = known.isEmpty ? "none" : known.sorted().joined(separator: ", ")
        return HostCallError(
            type: "UnknownFunction", message: "the host has no function '\(name)' (its functions: \(names))")
    }

    /// A call for an execution that is not running.
    static func noExecution(_ executionID: String) -> HostCallError {
        HostCallError(
            type: "NoExecution",
            message: "execution \(executionID) is not running; the host answers calls only during an execution")
    }
}
