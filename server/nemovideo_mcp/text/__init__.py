"""Text handling: intent routing, GUI phrases, timeline summaries, cleaning and redaction."""
