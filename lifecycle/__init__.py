"""Lifecycle migration: rules that move members between lifecycle groups by date or progress, with
notices and history (阶段迁移)."""
