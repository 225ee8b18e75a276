"""homage: tell, from the audio alone, which recordings are versions of one another."""

__version__ = "0.1.0"
