import pytest

from potcot.server.prompts import (
    ALPACA_STOP,
    POT_CLOSING_FENCE,
    ChatMessage,
    PromptStyle,
    chain_of_thought,
    program_of_thought,
    resolve_style,
    with_choices,
)

ALPACA_POT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\nWhat is 2 + 3? Let's write a program.\n\n### Response:"
)


def test_alpaca_program_of_thought_is_mammoths_template() -> None:
    prompt = program_of_thought("What is 2 + 3?", PromptStyle.ALPACA)
    assert prompt.text == ALPACA_POT
    assert prompt.stop == ALPACA_STOP


def test_alpaca_chain_of_thought_has_no_trigger() -> None:
    prompt = chain_of_thought("What is 2 + 3?", PromptStyle.ALPACA)
    assert "### Instruction:\nWhat is 2 + 3?\n\n### Response:" in prompt.text
    assert "program" not in prompt.text


def test_chat_prompts_are_one_user_message() -> None:
    pot = program_of_thought("What is 2 + 3?", PromptStyle.CHAT)
    cot = chain_of_thought("What is 2 + 3?", PromptStyle.CHAT)
    assert pot.messages[0].role == cot.messages[0].role == "user"
    assert "```python" in pot.messages[0].content and "print" in pot.messages[0].content
    assert 'The answer is X."' in cot.messages[0].content
    assert pot.text is None and cot.stop == ()


def test_a_chat_program_stops_where_its_code_block_closes() -> None:
    """The prose a chat model writes after its program is never read: the program ends at the fence."""
    pot = program_of_thought("What is 2 + 3?", PromptStyle.CHAT)
    assert pot.stop == (POT_CLOSING_FENCE,)
    reply = "Here it is:\n```python\nprint(2 + 3)\n```\nThis program adds the numbers."
    opening, closing = reply.index("```python"), reply.index(POT_CLOSING_FENCE)
    assert POT_CLOSING_FENCE not in reply[: opening + len("```python\n")] and closing > opening
    assert program_of_thought("What is 2 + 3?", PromptStyle.ALPACA).stop == ALPACA_STOP


def test_choices_are_listed_as_mammoth_did() -> None:
    assert with_choices("Pick one.", ["12", "15"]) == "Pick one.\nAnswer Choices: (A) 12 (B) 15"
    cot = chain_of_thought("Pick one.", PromptStyle.CHAT, ["12", "15"])
    assert isinstance(cot.messages[0], ChatMessage)
    assert "letter of the correct choice" in cot.messages[0].content


STYLES = [
    (PromptStyle.ALPACA, "any", True, PromptStyle.ALPACA),
    (PromptStyle.CHAT, "MAmmoTH-7B", False, PromptStyle.CHAT),
    (PromptStyle.AUTO, "TIGER-Lab/MAmmoTH-7B", True, PromptStyle.ALPACA),
    (PromptStyle.AUTO, "SmolLM2-135M-Instruct", True, PromptStyle.CHAT),
    (PromptStyle.AUTO, "some-base-model", False, PromptStyle.ALPACA),
]


@pytest.mark.parametrize(("requested", "model", "has_template", "resolved"), STYLES)
def test_resolve_style(requested: PromptStyle, model: str, has_template: bool, resolved: PromptStyle) -> None:
    assert resolve_style(requested, model, has_template) is resolved


def test_unresolved_style_cannot_render() -> None:
    with pytest.raises(ValueError, match="resolve"):
        program_of_thought("q", PromptStyle.AUTO)
