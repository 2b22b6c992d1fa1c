"""Entry points: coresnap, coresnapd, coroner, coronerd."""
