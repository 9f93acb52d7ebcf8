"""qrtc."""
