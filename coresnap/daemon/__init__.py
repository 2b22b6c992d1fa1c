"""coresnapd: drives dumps through the stages (see coresnap.daemon.service and docs/pipeline.md)."""
