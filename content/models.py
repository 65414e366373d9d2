"""Posts, the sensitive-word lexicon and the review pipeline arrive with the content issue."""
