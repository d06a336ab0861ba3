"""TL;DRs of papers: an extractive one-liner from the abstract by default (``extractive``, pure and offline),
optionally from an OpenAI-compatible chat endpoint (``llm``); ``service`` computes what is due and stores it."""
