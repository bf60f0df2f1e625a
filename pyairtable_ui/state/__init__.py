"""State shared by every page: who is asking."""
