"""The sandbox every student kernel runs in: bubblewrap, control groups, the kernel's launcher and the kernel-side
guard, probe and watch (standard library only: they run in the student's kernel)."""
