"""Provider plugins: the conformance suite for each, and their own details."""
