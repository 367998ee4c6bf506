"""Event sources: Jetstream archives, the live stream, repository exports (CAR) and author feeds, as lines."""
