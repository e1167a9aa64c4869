"""Accounts: API keys (stored hashed), and usage metering without content."""
