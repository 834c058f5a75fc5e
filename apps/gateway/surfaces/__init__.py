"""Inbound API surfaces other than OpenAI's chat completions: each translates its callers' format to and from the
data plane's internal one (OpenAI chat completions) and runs the pipeline's request skeleton. No framework here."""
