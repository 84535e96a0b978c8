"""Pure parsers of the eMRTD Logical Data Structure files (no I/O)."""
