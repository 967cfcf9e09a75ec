"""Command groups of the ``lantian`` CLI; each module defines ``register(app)``."""
