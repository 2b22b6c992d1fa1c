"""The `make run` demo: build the bundled crashing programs, crash them, show what coresnap sees."""
