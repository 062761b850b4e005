"""The frame viewer: the cine frame, the mask overlay and the annotation items."""
