// Replaced by the CLI issue (#4).
print("pyrun CLI: under construction")
