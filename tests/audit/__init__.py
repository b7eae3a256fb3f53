"""Tests of bot_core.audit: audit storage, verified backups and restore."""
