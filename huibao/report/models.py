"""Reports read the other apps' records; this app keeps no table of its own yet."""
