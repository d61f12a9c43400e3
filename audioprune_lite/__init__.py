"""audioprune_lite."""
