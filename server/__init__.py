"""The solving core: the solver and its strategies, the prompts, voting, the engines and the settings
they take, and a solve as data (``schema``). Nothing here imports the web server (``web``) or knows
about HTTP: training and the benchmarks build on this package, never on the web server."""
