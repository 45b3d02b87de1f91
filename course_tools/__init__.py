"""The maintainers' tools on top of the lesson library: run the lessons (``notebooks``), benchmark the
input pipeline (``bench``), prepare and verify the download caches (``caches``), check accuracy gates
(``gates``), print Colab time estimates (``estimates``) and generate stand-ins for offline rehearsals
(``standins``). Nothing in :mod:`course` imports from here.
"""
