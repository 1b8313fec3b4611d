"""potcot through the official OpenAI client: plain generation and a hybrid solve, streamed.

.venv/bin/python examples/openai_client.py   # with `make run` serving on 127.0.0.1:8000

With a server started with API keys, export POTCOT_API_KEY as for the server: the first key is sent.
"""

import os

from openai import OpenAI

# The client needs some api_key; a server without keys ignores it.
api_key = os.environ.get("POTCOT_API_KEY", "").split(",")[0].strip() or "unused"
client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key=api_key)
print([model.id for model in client.models.list()])

reply = client.chat.completions.create(
    model="SmolLM2-135M-Instruct",
    messages=[{"role": "user", "content": "Give me one fact about prime numbers."}],
    max_tokens=48,
)
print(reply.choices[0].message.content)

stream = client.chat.completions.create(
    model="SmolLM2-135M-Instruct:hybrid",
    messages=[{"role": "user", "content": "A baker makes 12 muffins per tray and bakes 7 trays. How many muffins?"}],
    stream=True,
)
for chunk in stream:
    print(chunk.choices[0].delta.content or "", end="", flush=True)
print()
