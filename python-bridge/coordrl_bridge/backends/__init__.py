"""One module per kind of env group: Atari (ale-py), MinAtar, Gymnasium; `base` has what they share."""
