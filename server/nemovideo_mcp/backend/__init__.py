"""The NemoVideo HTTP client: endpoints, SSE reading, models, identity and session."""
