"""qrtc subpackage."""
