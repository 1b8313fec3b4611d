"""Tool-integrated records: programs of thought shown with their real sandbox output and the answer
boxed, judged by the execution filter, mixed in the Alpaca format, and trained on as served."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from potcot.answers import Grader
from potcot.sandbox import ExecutionResult, Sandbox, Status
from potcot.server.embedded import embedded_model_dir
from potcot.server.prompts import PromptStyle, Rationale, instruction, tool_integrated
from potcot.server.settings import EngineSettings
from potcot.training.filter import filter_programs
from potcot.training.masking import IGNORED
from potcot.training.mix import MixConfig, mix
from potcot.training.records import RationaleRecord, read_records, write_jsonl
from potcot.training.sft import tokenized_examples
from potcot.training.tir import REASONING, tir_record, tir_records

POTCOT = str(Path(sys.executable).with_name("potcot"))
EGGS = "laid = 16\nleft = laid - 3 - 4\nprint(left * 2)"


def potcot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POTCOT, *args], capture_output=True, text=True, timeout=120)


def record(identifier: str, output: str, answer: str = "18", rationale: Rationale = Rationale.POT) -> RationaleRecord:
    return RationaleRecord(identifier, f"question {identifier}", answer, rationale, output, "test")


def test_record_shape(sandbox: Sandbox) -> None:
    program = record("eggs", EGGS + "\n")
    tir = tir_record(program, sandbox.run(program.output))
    assert tir.output == (
        f"{REASONING}\n"
        "```python\nlaid = 16\nleft = laid - 3 - 4\nprint(left * 2)\n```\n"
        "```output\n18\n```\n"
        "The answer is $\\boxed{18}$."
    )
    assert tir == RationaleRecord("eggs", "question eggs", "18", Rationale.TIR, tir.output, "test")


def test_output_block_is_everything_printed_and_the_box_what_the_solver_reads(sandbox: Sandbox) -> None:
    program = record("labelled", "x = 9\nprint('x is', x)\nprint('The answer is', 2 * x)")
    output = tir_record(program, sandbox.run(program.output)).output
    assert "```output\nx is 9\nThe answer is 18\n```\nThe answer is $\\boxed{18}$." in output


def test_records_only_what_the_sandbox_printed_for_a_right_answer(sandbox: Sandbox) -> None:
    programs = [
        record("right", EGGS),
        record("claims 18, prints 20", "print(20)"),
        record("answer is a value, not printed", "16 - 3 - 4 + 9"),
        record("broken", "print(18 / 0)"),
    ]
    with Grader(workers=1) as grader:
        written, report = tir_records(programs, sandbox, grader)
        kept, _ = filter_programs(programs, sandbox, grader)
    assert [tir.id for tir in written] == ["right"]
    assert report.counts == {"kept": 1, "wrong_answer": 1, "no_output": 1, "runtime_error": 1}
    assert [program.id for program in kept] == ["right", "answer is a value, not printed"]
    real = sandbox.run(EGGS).stdout.strip()
    assert f"```output\n{real}\n```" in written[0].output


@pytest.mark.parametrize(
    "result",
    [
        ExecutionResult(Status.OK, "", "18"),  # the value of a final expression: nothing to show
        ExecutionResult(Status.RUNTIME_ERROR, "18\n", None, "ZeroDivisionError"),
        ExecutionResult(Status.OK, "\n \n", None),
    ],
    ids=["nothing printed", "failed after printing", "blank lines"],
)
def test_no_record_without_printed_output(result: ExecutionResult) -> None:
    with pytest.raises(ValueError, match="printed no answer"):
        tir_record(record("p", "print(18)"), result)


def test_only_programs_become_tool_integrated(sandbox: Sandbox) -> None:
    chain = record("c", "9 + 9 is 18. The answer is 18.", rationale=Rationale.COT)
    with pytest.raises(ValueError, match="not a program of thought"):
        tir_record(chain, ExecutionResult(Status.OK, "18\n", "18"))
    with Grader(workers=1) as grader, pytest.raises(ValueError, match="not programs of thought"):
        tir_records([chain], sandbox, grader)


def tir(identifier: str, answer: str = "18") -> RationaleRecord:
    program, box = f"```python\nprint({answer})\n```", f"The answer is $\\boxed{{{answer}}}$."
    output = f"{REASONING}\n{program}\n```output\n{answer}\n```\n{box}"
    return record(identifier, output, answer, Rationale.TIR)


@pytest.mark.parametrize("style", [PromptStyle.ALPACA, PromptStyle.CHAT])
def test_mix_keeps_and_counts_tool_integrated_records(style: PromptStyle) -> None:
    records = [record("1", "print(18)"), record("1", "The answer is 18.", rationale=Rationale.COT), tir("1"), tir("1")]
    train, _, stats = mix(records, MixConfig(style=style, eval_fraction=0))
    assert (stats.cot, stats.pot, stats.tir, stats.duplicates_dropped, stats.train) == (1, 1, 1, 1, 3)
    assert train[2] == {
        "instruction": instruction("question 1", Rationale.TIR, style),
        "output": tir("1").output,
        "source": "test/tir",
    }


def test_cot_share_balances_against_programs_and_tool_integrated_records_together() -> None:
    records = [tir(str(i)) for i in range(10)] + [record(str(i), f"print({i})") for i in range(10)]
    records += [record(str(i), "The answer is 18.", rationale=Rationale.COT) for i in range(40)]
    _, _, stats = mix(records, MixConfig(cot_share=0.5, eval_fraction=0))
    assert (stats.cot, stats.pot + stats.tir) == (20, 20)


@pytest.mark.parametrize("style", [PromptStyle.ALPACA, PromptStyle.CHAT])
def test_training_prompt_is_the_served_tir_prompt(style: PromptStyle, tmp_path: Path) -> None:
    """What training feeds the model before the response is what ``--strategy tir`` serves it."""
    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir(EngineSettings().cache_dir))
    train, _, _ = mix([tir("1")], MixConfig(style=style, eval_fraction=0))
    write_jsonl(tmp_path / "train.jsonl", train)
    example = tokenized_examples(tmp_path / "train.jsonl", style, tokenizer)[0]
    first_learnt = next(index for index, label in enumerate(example["labels"]) if label != IGNORED)
    served = tool_integrated("question 1", style)
    if style is PromptStyle.CHAT:
        assert served.messages is not None
        messages = [{"role": message.role, "content": message.content} for message in served.messages]
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        prompt = served.text
    assert tokenizer.decode(example["input_ids"][:first_learnt]) == prompt
    assert tokenizer.decode(example["input_ids"][first_learnt:]).startswith(tir("1").output.split("```output")[0])


def test_data_tir_and_mix_end_to_end(tmp_path: Path) -> None:
    programs = tmp_path / "filtered_pot.jsonl"
    write_jsonl(programs, [record("right", EGGS), record("wrong", "print(20)")])
    output = tmp_path / "tir.jsonl"
    completed = potcot("data", "tir", "--input", str(programs), "--output", str(output), "--workers", "1")
    assert completed.returncode == 0, completed.stderr
    assert "1 of 2 programs became tool-integrated rationales: kept 1, wrong_answer 1" in completed.stdout
    [written] = read_records(output)
    assert (written.id, written.rationale) == ("right", Rationale.TIR) and "```output\n18\n```" in written.output

    mixed = potcot("data", "mix", "--tir", str(output), "--pot", str(programs),
                   "--eval-fraction", "0", "--output", str(tmp_path / "mix"))  # fmt: skip
    assert mixed.returncode == 0, mixed.stderr
    assert "0 chains of thought, 2 programs and 1 tool-integrated rationales" in mixed.stdout
    rows = [json.loads(line) for line in (tmp_path / "mix" / "train.jsonl").read_text().splitlines()]
    assert [row["source"] for row in rows] == ["test/pot", "test/pot", "test/tir"]


def test_data_tir_refuses_chains_of_thought(tmp_path: Path) -> None:
    chains = tmp_path / "cot.jsonl"
    write_jsonl(chains, [record("c", "The answer is 18.", rationale=Rationale.COT)])
    completed = potcot("data", "tir", "--input", str(chains), "--output", str(tmp_path / "tir.jsonl"))
    assert completed.returncode != 0
    assert "not programs of thought" in completed.stderr and "Traceback" not in completed.stderr
