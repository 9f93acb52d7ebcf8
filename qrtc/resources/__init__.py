"""Resources: counted from built circuits (:mod:`~qrtc.resources.counted`), by analytic formula
(:mod:`~qrtc.resources.formulas`), and estimated at any size without building anything
(:mod:`~qrtc.resources.estimate`, ``qrtc resources``)."""
