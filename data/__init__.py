"""The Liupanshui demo dataset builder and its small source files."""
