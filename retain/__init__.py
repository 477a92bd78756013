"""The top floor: the `retain` command and the demos. Nothing imports it."""
