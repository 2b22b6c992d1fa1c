"""coresnap: catch every core dump, turn it into a small annotated snapshot, group it fleet-wide."""

__version__ = "0.1.0"
