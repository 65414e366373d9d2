"""The needs survey, its pivot analysis, demand clusters that suggest sub-groups, and per-member
sub-group recommendations (智能分群)."""
