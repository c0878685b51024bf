"""Coverage-guided fuzzing (atheris) of everything that parses outside input; see docs/reliability.md."""
