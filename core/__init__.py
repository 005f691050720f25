"""The ground floor under every app: hand-written SQL, domain errors, jobs by name. No models."""
