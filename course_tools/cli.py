"""``dogs-course <command>``: the maintainers' commands in one place; each is also ``python -m <module>``."""

from __future__ import annotations

import importlib
import sys

# command -> (module whose main() runs it, what it does)
COMMANDS = {
    "run": ("course.__main__", "train the three approaches without the notebooks (python -m course)"),
    "lessons": ("course_tools.notebooks", "execute the lessons with papermill (make demo, CI)"),
    "gates": ("course_tools.gates", "check executed lessons' accuracies against gates.toml"),
    "pretrain": ("course_tools.pretrain", "pretrain the demo profile's backbone on the synthetic source task"),
    "bench": ("course_tools.bench", "measure the input pipelines"),
    "caches": ("course_tools.caches", "prepare and verify the download caches"),
    "estimates": ("course_tools.estimates", "print the Colab time estimates"),
    "standins": ("course_tools.standins", "write stand-ins of the archive and the weights"),
    "finetune-cost": ("course_tools.finetune_cost", "time a frozen epoch against a fine-tuning epoch"),
    "next-runtime": ("course_tools.next_runtime", "run the lessons on the next TensorFlow and Keras"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "usage: dogs-course <command> [arguments]   (dogs-course <command> --help)\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help"}:
        print(usage())
        return 0 if argv else 2
    command, *rest = argv
    if command not in COMMANDS:
        print(f"dogs-course: no command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    return module.main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
