"""Where pending work runs besides the local process: a Ray cluster (:mod:`lem.executors.ray`)."""
