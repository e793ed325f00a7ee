"""Stream classes, one module per source."""
