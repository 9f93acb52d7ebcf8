"""Lowering passes, one module per arrow of the pipeline (shared/design.md §1), each a pure
function named after its module; only the driver (:mod:`qrtc.pipeline`) calls them."""
