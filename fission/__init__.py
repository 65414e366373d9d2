"""Personal invitation links, referrals and their checks, campaigns with invite tasks, and the
fission coefficient (裂变)."""
