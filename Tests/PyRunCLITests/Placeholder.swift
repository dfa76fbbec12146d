import Testing
// Replaced by the CLI issue (#4).
