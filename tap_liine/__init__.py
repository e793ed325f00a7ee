"""tap-liine: a Singer tap for Liine interactions, patient conversations and Interactly statistics."""
