"""What every HybridFlow service shares: configuration, the database pool,
JSON logging, the error shape, token checks and the app skeleton."""

__version__ = "0.1.0"
