"""Long-running populate processes and command-line entry points."""
