"""The pure matching library of chainmatch: plain dataclasses and numpy in, results out."""
