"""Studies that run the pipeline many times: the scaling study (:mod:`~qrtc.studies.scale`,
``qrtc scale``) and the sparse model family it builds along the model size
(:mod:`~qrtc.studies.family`)."""
