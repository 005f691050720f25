"""Inference engines behind one small interface, and the HTTP transport between them and the
gateway. Plain Python (no Django): an engine runs in its own process (`serve_models`, or
`python -m serving.engines.server`) or is any OpenAI-compatible server, such as vLLM."""
