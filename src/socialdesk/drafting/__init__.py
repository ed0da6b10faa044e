"""Drafted replies from a language model behind an OpenAI-compatible chat-completions endpoint.

`client` asks the endpoint (Ollama, vLLM, llama.cpp's server, OpenAI…) for one completion,
`prompt` builds what it is asked from the case, and `fake` is a local server answering in
the same shape for the tests and the demo. A draft only ever lands in the agent's reply box:
nothing is sent without the agent pressing Send.
"""
