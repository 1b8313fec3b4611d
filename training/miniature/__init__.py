"""A family of templated multi-step arithmetic word problems, each with its answer and three
rationales (chain of thought, program of thought, tool-integrated), as a data source on which a
model small enough to train on a CPU can show what hybrid decoding buys (issue 13).

``templates.yaml`` holds the problems (``templates`` reads it, ``expressions`` its arithmetic),
``work`` writes a problem's program and chain of thought from the same steps, ``arithmetic`` writes
the worked arithmetic, ``splits`` draws and writes the splits. ``text_templates.yaml`` holds the
text kinds (``text_kinds`` reads it): multiple choice answered by a name or a word, which text does
and the family's programs do not, the other half of the claim (issue 32). ``pipeline`` trains and
benchmarks; ``claims`` says which half of the claim a run shows.
"""
