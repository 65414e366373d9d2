"""Activity events and the metric engine arrive with the analytics issue."""
