"""paperfeed: a self-hostable research-literature feed for AI and ML."""

__version__ = "0.1.0"
