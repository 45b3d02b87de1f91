"""Grading: repair, autograde in a process of its own, verdicts computed outside the kernel, mark schemes, time
limits, the gradebook, the cluster."""
