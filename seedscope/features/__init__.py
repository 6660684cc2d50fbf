"""Feature extraction: every extractor runs once per image and writes a feature table."""
