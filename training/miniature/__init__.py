"""A family of templated multi-step arithmetic word problems, each with its answer and three
rationales (chain of thought, program of thought, tool-integrated), as a data source on which a
model small enough to train on a CPU can show what hybrid decoding buys (issue 13).

``templates.yaml`` holds the problems (``templates`` reads it, ``expressions`` its arithmetic),
``work`` writes a problem's program and chain of thought from the same steps, ``arithmetic`` writes
the worked arithmetic, ``splits`` draws and writes the splits.
"""
