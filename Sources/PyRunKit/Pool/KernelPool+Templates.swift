extension KernelPool {
    /// Ends the host's kernel templates that no kernel is using.
    ///
    /// A template (``KernelConfiguration/usesTemplate``) outlives the pool that started it, so
    /// that the next pool forks at once, and ends with the host. A host done with templates
    /// sooner (at the end of its own test run) or that changed what they loaded (a prelude
    /// file or a preloaded module edited in place) calls this: every template that runs no
    /// kernel and forks none ends, and the next kernel that asks for a template starts a fresh
    /// one. A template whose kernels still run is left alone. A template that could not start
    /// is forgotten as well, so the next kernel that asks for it tries again.
    ///
    /// Templates belong to the whole host process, not to one pool: the call reaches those of
    /// every pool and kernel in it, unless `environment` narrows it.
    ///
    /// - Parameter environment: Only the templates whose kernels' environment
    ///   (``KernelConfiguration/environment`` over the host's) sets each of these variables to
    ///   its value: a host that marks its kernels so ends no one else's. Empty, the default,
    ///   for every template.
    /// - Returns: How many template processes ended; they are gone when it returns.
    @discardableResult
    public static func endIdleTemplates(matching environment: [String: String] = [:]) async -> Int {
        await KernelTemplates.shared.endIdleTemplates(matching: environment)
    }
}
