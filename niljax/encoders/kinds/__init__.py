"""One module per encoder kind (see `niljax.encoders.registry`): the file name, "_" read as "-", is the kind."""
