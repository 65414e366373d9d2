"""Check-ins, the points rules, levels, streaks, the rewards shop, organised events and leaderboards (社群活跃)."""
