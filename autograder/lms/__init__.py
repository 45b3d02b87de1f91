"""Learning management systems: collecting a download into the course, the roster, exporting grades."""
