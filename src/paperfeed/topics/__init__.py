"""Topics: the taxonomy, the calibrated multi-label tagger, category prediction, trends and charts."""
