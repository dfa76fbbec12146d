// Replaced by the benchmark issue (#5).
print("pyrun-bench: under construction")
