"""The web server: potcot's HTTP API (FastAPI) on top of the solving core, and the commands that run it."""
