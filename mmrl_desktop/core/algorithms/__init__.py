"""Learning algorithms: one self-contained module each, registered in the plain dict ALGORITHMS."""
