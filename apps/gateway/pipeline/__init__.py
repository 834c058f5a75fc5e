"""The data plane's one pipeline: plain async Python, no Django, testable with in-memory fakes."""
