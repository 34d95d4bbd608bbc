"""Planning compliance review (规划合规性审查): a redline against the control lines (三区三线) and the regulatory plan."""
