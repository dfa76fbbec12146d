/// The `instructions` the server gives at `initialize`: how sessions, running calls and
/// truncation work, in the words a model needs (clients may put them in the system prompt).
public enum ServerInstructions {
    public static func text(_ limits: ToolCatalog.Limits = ToolCatalog.Limits()) -> String {
        """
        pyrun runs Python in persistent interpreters ("sessions"). Use the python tool to run code; \
        variables, imports and loaded data stay in the session for later calls, so build on earlier \
        results instead of recomputing them.

        Sessions: the default session is "main". Give another name to get a separate interpreter (for \
        example one per task); sessions do not share state and can run at the same time. A session runs \
        one call at a time: a call on a busy session returns status "busy" at once with the run_id it is \
        busy with; nothing is queued. python_sessions lists sessions and resets or closes one.

        Long calls: python returns after wait_s seconds (default \(Int(limits.defaultWaitSeconds))) with \
        status "running" and a run_id while the code keeps going; call python_wait(run_id) to get the \
        output since the last look and, at the end, the outcome. Code is stopped after timeout_s seconds \
        (default \(Int(limits.defaultTimeoutSeconds))). python_interrupt stops running code as Ctrl-C does \
        and keeps the session's state; if the code ignores it, the interpreter is restarted. Cancelling a \
        python or python_wait call interrupts its code the same way.

        Lost state is always announced: when a session's interpreter was restarted, died or was shut \
        down, the next reply has a notice with state_lost true and the reason. Re-run the setup code you \
        need before going on.

        Output: each reply shows at most about \(limits.outputCharacters.grouped) characters of output. \
        Longer output keeps its start and its end (errors come last) and says in a [pyrun: …] note what \
        was left out; python_output(run_id, offset, limit, grep) pages through all of it, and the note \
        names the file that holds it. Colour codes are removed, progress bars show their last state, and \
        repeated lines are folded. Images are returned as images. Values of the server's secret \
        environment variables are shown as [redacted].

        Host functions: help(host) in a session lists the functions of this server the code can call \
        (host.NAME(...)). When your client offers MCP sampling, host.complete(prompt, max_tokens=1024) \
        asks your model and returns the reply's text, so one call can, for example, label many rows in \
        a loop.

        Status: ok and running are successes; error (an exception, with its traceback), timeout, \
        interrupted, busy and died are reported as errors.
        """
    }
}
