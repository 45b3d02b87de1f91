"""What the instructor reads after grading: the report, the class pages, feedback, the similarity report."""
